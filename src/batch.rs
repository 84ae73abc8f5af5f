//! Folders of mixtures: discovery, deterministic shards for job arrays, output naming,
//! idempotent re-runs, and per-file outcomes (a bad file never stops the others).

use crate::audio::{AudioReader, OutputFormat};
use crate::error::{Error, Result};
use crate::outputs::{check_run, OutputFiles, Template};
use crate::separate::Separator;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Which slice of the sorted file list this worker takes: file `k` belongs to shard `k % count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Shard::parse(s)
    }
}

impl Shard {
    /// Everything in one shard.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// `index` < `count`, `count` >= 1.
    pub fn new(index: usize, count: usize) -> Result<Self> {
        if count == 0 || index >= count {
            return Err(Error::Invalid(format!(
                "shard {index}/{count}: expected I/N with 0 <= I < N"
            )));
        }
        Ok(Shard { index, count })
    }

    /// Parses `I/N` (0-based I).
    pub fn parse(text: &str) -> Result<Self> {
        let bad = || Error::Invalid(format!("shard {text:?}: expected I/N, e.g. 0/4"));
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let index = i.trim().parse().map_err(|_| bad())?;
        let count = n.trim().parse().map_err(|_| bad())?;
        Shard::new(index, count)
    }

    /// The shard a job array gives this worker, from a lookup of environment variables:
    /// Slurm (`SLURM_ARRAY_TASK_ID` - `SLURM_ARRAY_TASK_MIN`, of `SLURM_ARRAY_TASK_COUNT`), or a
    /// Kubernetes Indexed Job (`JOB_COMPLETION_INDEX`, of `count` given on the command line or
    /// in `SAEX_SHARD_COUNT`). `None` when neither is set.
    pub fn from_env(
        env: impl Fn(&str) -> Option<String>,
        count: Option<usize>,
    ) -> Result<Option<Self>> {
        let number = |name: &str| -> Result<Option<usize>> {
            env(name)
                .map(|v| {
                    v.trim().parse::<usize>().map_err(|_| {
                        Error::Invalid(format!("{name}={v:?}: expected a non-negative integer"))
                    })
                })
                .transpose()
        };
        if let (Some(id), Some(n)) = (
            number("SLURM_ARRAY_TASK_ID")?,
            number("SLURM_ARRAY_TASK_COUNT")?,
        ) {
            let min = number("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
            let index = id.checked_sub(min).ok_or_else(|| {
                Error::Invalid(format!(
                    "SLURM_ARRAY_TASK_ID {id} is below SLURM_ARRAY_TASK_MIN {min}"
                ))
            })?;
            return Shard::new(index, count.unwrap_or(n)).map(Some);
        }
        if let Some(index) = number("JOB_COMPLETION_INDEX")? {
            let n = match count {
                Some(n) => n,
                None => number("SAEX_SHARD_COUNT")?.ok_or_else(|| {
                    Error::Invalid(
                        "JOB_COMPLETION_INDEX is set but the shard count is not: pass --shards N \
                         (the Job's completions) or set SAEX_SHARD_COUNT"
                            .into(),
                    )
                })?,
            };
            return Shard::new(index, n).map(Some);
        }
        Ok(None)
    }

    /// The items of `sorted` that belong to this shard.
    pub fn select<T: Clone>(&self, sorted: &[T]) -> Vec<T> {
        sorted
            .iter()
            .skip(self.index)
            .step_by(self.count)
            .cloned()
            .collect()
    }
}

/// What [`discover`] found under a folder.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Found {
    /// Audio files (by extension), sorted by path.
    pub audio: Vec<PathBuf>,
    /// Other files (not hidden), sorted: skipped as unsupported.
    pub unsupported: Vec<PathBuf>,
    /// Folders reached a second time through a symbolic link (a loop such as `x/up -> ..`, or
    /// two links to one folder), sorted: each folder is read once.
    pub repeated: Vec<PathBuf>,
}

impl Found {
    /// How many folders hold a mixture beside its stems (`mixture.wav` and `vocals.wav`, ...),
    /// as a dataset such as MUSDB18's does: separating those stems is rarely what was meant.
    pub fn mixture_folders(&self) -> usize {
        let is_mixture = |p: &PathBuf| {
            p.file_stem()
                .is_some_and(|s| s.eq_ignore_ascii_case(crate::dataset::MIXTURE))
        };
        self.audio
            .iter()
            .filter(|p| is_mixture(p))
            .filter(|mixture| {
                self.audio
                    .iter()
                    .any(|other| other.parent() == mixture.parent() && !is_mixture(other))
            })
            .count()
    }
}

/// Every audio file under `dir` (recursively), sorted by path, hidden files and folders
/// skipped; with `include` globs (matched against the path below `dir`, `*` within one folder,
/// `**` across folders), only the files that match one of them. Linked folders are followed,
/// each folder (by device and inode) once: a link back up is listed in [`Found::repeated`].
pub fn discover(dir: &Path, include: &[String]) -> Result<Found> {
    use std::os::unix::fs::MetadataExt;
    if !dir.is_dir() {
        return Err(Error::file(dir, "is not a folder"));
    }
    let globs = include_set(include)?;
    let mut found = Found::default();
    let mut visited = std::collections::HashSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        let meta = std::fs::metadata(&folder).map_err(|e| Error::io(&folder, e))?;
        if !visited.insert((meta.dev(), meta.ino())) {
            found.repeated.push(folder);
            continue;
        }
        let entries = std::fs::read_dir(&folder).map_err(|e| Error::io(&folder, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&folder, e))?;
            let path = entry.path();
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let kind = entry.file_type().map_err(|e| Error::io(&path, e))?;
            if kind.is_dir() || (kind.is_symlink() && path.is_dir()) {
                stack.push(path);
                continue;
            }
            if let Some(globs) = &globs {
                if !globs.is_match(path.strip_prefix(dir).unwrap_or(&path)) {
                    continue;
                }
            }
            if is_audio(&path) {
                found.audio.push(path);
            } else {
                found.unsupported.push(path);
            }
        }
    }
    found.audio.sort();
    found.unsupported.sort();
    found.repeated.sort();
    Ok(found)
}

fn include_set(include: &[String]) -> Result<Option<globset::GlobSet>> {
    if include.is_empty() {
        return Ok(None);
    }
    let mut set = globset::GlobSetBuilder::new();
    for pattern in include {
        let glob = globset::GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
            .map_err(|e| Error::Invalid(format!("--include {pattern:?}: {e}")))?;
        set.add(glob);
    }
    set.build()
        .map(Some)
        .map_err(|e| Error::Invalid(format!("--include: {e}")))
}

fn is_audio(path: &Path) -> bool {
    crate::audio::read_extension(path).is_some()
}

/// What a batch run is asked to do.
#[derive(Debug, Clone)]
pub struct BatchJob {
    pub input_dir: PathBuf,
    pub output_dir: PathBuf,
    pub template: String,
    /// Also write the residual under this target name (e.g. "accompaniment").
    pub residual: Option<String>,
    pub shard: Shard,
    pub overwrite: bool,
    pub format: OutputFormat,
    /// Only the inputs that match one of these globs (paths below `input_dir`); all if empty.
    pub include: Vec<String>,
}

/// The outcome of one file.
#[derive(Debug)]
pub enum FileOutcome {
    Done {
        seconds_audio: f64,
        seconds: f64,
        /// Clipping warnings of its outputs.
        warnings: Vec<String>,
    },
    Skipped,
    Failed(Error),
}

/// Counts over a batch.
#[derive(Debug, Default, Clone, Copy)]
pub struct BatchSummary {
    pub processed: usize,
    pub skipped: usize,
    pub failed: usize,
    pub seconds_audio: f64,
    pub seconds: f64,
    /// The run stopped early on a stop request; the files not reached are left for a re-run.
    pub interrupted: bool,
}

impl BatchSummary {
    fn add(&mut self, outcome: &FileOutcome) {
        match outcome {
            FileOutcome::Done {
                seconds_audio,
                seconds,
                ..
            } => {
                self.processed += 1;
                self.seconds_audio += seconds_audio;
                self.seconds += seconds;
            }
            FileOutcome::Skipped => self.skipped += 1,
            FileOutcome::Failed(Error::Interrupted) => self.interrupted = true,
            FileOutcome::Failed(_) => self.failed += 1,
        }
    }
}

/// One planned file: its input and every output path.
#[derive(Debug, Clone)]
pub struct PlannedFile {
    pub input: PathBuf,
    pub outputs: OutputFiles,
}

impl BatchJob {
    /// The files found under the input folder (after `include`), with the output folder left
    /// out when it lies inside the input folder.
    pub fn discover(&self) -> Result<Found> {
        let mut found = discover(&self.input_dir, &self.include)?;
        if let (Ok(input), Ok(output)) = (
            self.input_dir.canonicalize(),
            self.output_dir.canonicalize(),
        ) {
            if input == output {
                return Err(Error::file(
                    &self.output_dir,
                    "is the input folder: outputs would be taken for inputs on the next run; \
                     choose another output folder",
                ));
            }
            if output.starts_with(&input) {
                let outside = |f: &PathBuf| !f.canonicalize().is_ok_and(|f| f.starts_with(&output));
                found.audio.retain(outside);
                found.unsupported.retain(outside);
            }
        }
        Ok(found)
    }

    /// This shard's files and their outputs, checked before any work: every output has a
    /// format saex writes, and no two outputs of the whole run (over every shard) are one file,
    /// e.g. `song.wav` and `song.mp3` under one template, or a residual named like a target.
    /// The output folder may not be the input folder; when it lies inside it, the files under
    /// it are not inputs.
    pub fn plan(&self, targets: &[&str]) -> Result<Vec<PlannedFile>> {
        let template = Template::new(&self.template)?;
        let planned = self
            .discover()?
            .audio
            .iter()
            .map(|input| self.planned(&template, input, targets))
            .collect::<Result<Vec<_>>>()?;
        check_run(planned.iter().map(|f| (f.input.as_path(), &f.outputs)))?;
        Ok(self.shard.select(&planned))
    }

    fn planned(&self, template: &Template, input: &Path, targets: &[&str]) -> Result<PlannedFile> {
        let path = |target: &str| template.fill(&self.output_dir, &self.input_dir, input, target);
        Ok(PlannedFile {
            input: input.to_path_buf(),
            outputs: OutputFiles {
                targets: targets.iter().map(|t| path(t)).collect::<Result<_>>()?,
                residual: self.residual.as_deref().map(path).transpose()?,
                format: self.format,
            },
        })
    }

    /// Whether a planned file's outputs all exist and are no older than its input (outputs are
    /// written atomically, so existing means finished; an input changed since is done again).
    fn is_finished(file: &PlannedFile) -> bool {
        let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        let input = modified(&file.input);
        file.outputs.paths().all(|p| {
            p.is_file()
                && match (input, modified(p)) {
                    (Some(input), Some(output)) => output >= input,
                    _ => true,
                }
        })
    }

    /// Runs the plan with `separator`: each file is skipped when finished (unless overwrite),
    /// else separated; `on_file` sees each outcome as it comes (for reporting and progress).
    /// A stop request (see [`Separator::with_stop`]) ends the run after the file in progress is
    /// abandoned (nothing written for it), with [`BatchSummary::interrupted`] set.
    pub fn run(
        &self,
        separator: &Separator,
        plan: &[PlannedFile],
        on_file: &mut dyn FnMut(&PlannedFile, &FileOutcome),
        progress: &mut dyn FnMut(u64),
    ) -> BatchSummary {
        let mut summary = BatchSummary::default();
        for file in plan {
            let outcome = self.outcome(separator, file, progress);
            summary.add(&outcome);
            on_file(file, &outcome);
            if summary.interrupted {
                break;
            }
        }
        summary
    }

    /// [`BatchJob::run`] with several files at once: one worker thread per separator, each
    /// taking the next file of the plan, so `separators.len()` files are in flight (memory is
    /// that many times one file's, still flat in the files' lengths). Outcomes reach `on_file`
    /// on the calling thread as they come; outputs stay atomic (each file's outputs appear
    /// complete or not at all) and a re-run skips finished files. After a stop request no
    /// worker starts another file.
    pub fn run_parallel(
        &self,
        separators: &mut [Separator],
        plan: &[PlannedFile],
        on_file: &mut dyn FnMut(&PlannedFile, &FileOutcome),
    ) -> BatchSummary {
        if separators.len() <= 1 || plan.len() <= 1 {
            return match separators.first() {
                Some(separator) => self.run(separator, plan, on_file, &mut |_| {}),
                None => BatchSummary::default(),
            };
        }
        let next = std::sync::atomic::AtomicUsize::new(0);
        let halt = std::sync::atomic::AtomicBool::new(false);
        let (tx, rx) = std::sync::mpsc::channel::<(usize, FileOutcome)>();
        let mut summary = BatchSummary::default();
        // LibTorch's thread count is per thread: the workers take the caller's.
        let threads = tch::get_num_threads();
        std::thread::scope(|scope| {
            // `&mut`, so each worker holds its separator alone (a separator is not `Sync`).
            for separator in separators.iter_mut() {
                let (tx, next, halt) = (tx.clone(), &next, &halt);
                scope.spawn(move || loop {
                    tch::set_num_threads(threads);
                    if halt.load(std::sync::atomic::Ordering::SeqCst) {
                        break;
                    }
                    let index = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some(file) = plan.get(index) else {
                        break;
                    };
                    let outcome = self.outcome(&*separator, file, &mut |_| {});
                    if matches!(outcome, FileOutcome::Failed(Error::Interrupted)) {
                        halt.store(true, std::sync::atomic::Ordering::SeqCst);
                    }
                    if tx.send((index, outcome)).is_err() {
                        break;
                    }
                });
            }
            drop(tx);
            for (index, outcome) in rx {
                summary.add(&outcome);
                on_file(&plan[index], &outcome);
            }
        });
        summary
    }

    /// Skips or separates one file.
    fn outcome(
        &self,
        separator: &Separator,
        file: &PlannedFile,
        progress: &mut dyn FnMut(u64),
    ) -> FileOutcome {
        if !self.overwrite && Self::is_finished(file) {
            return FileOutcome::Skipped;
        }
        let start = Instant::now();
        match self.separate_one(separator, file, progress) {
            Ok(report) => FileOutcome::Done {
                seconds_audio: report.duration_secs(),
                seconds: start.elapsed().as_secs_f64(),
                warnings: report
                    .outputs
                    .iter()
                    .filter_map(|o| o.clipping_warning())
                    .collect(),
            },
            Err(e) => FileOutcome::Failed(e),
        }
    }

    fn separate_one(
        &self,
        separator: &Separator,
        file: &PlannedFile,
        progress: &mut dyn FnMut(u64),
    ) -> Result<crate::separate::FileReport> {
        // Folders made here, deepest first, so that a failure can take them away again.
        let mut made = Vec::new();
        for path in file.outputs.paths() {
            if let Some(dir) = path.parent() {
                let mut missing: Vec<PathBuf> = dir
                    .ancestors()
                    .take_while(|d| !d.exists())
                    .map(PathBuf::from)
                    .collect();
                std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
                made.append(&mut missing);
            }
        }
        let result = separator.separate_file(&file.input, &file.outputs, progress);
        if result.is_err() {
            for dir in &made {
                // Only empty folders go; one that holds anything stays.
                let _ = std::fs::remove_dir(dir);
            }
        }
        result
    }
}

/// Files a batch separates at once by default on `cores` cores: one per core on the CPU, one
/// per 2 cores when the networks run on a GPU (at least one). Each file then runs its network
/// on one LibTorch thread (see [`crate::ThreadPlan`]), which has no barrier to stall, beside the
/// shared rayon pool. One file's pipeline cannot keep 2 cores busy: on the 2-core build machine
/// (2026-11-26) 4 files took 5.7 s on one core, 5.6-5.7 s on both with one file at a time and
/// 3.6 s with two. On an H100 machine's 16 cores 16 files at once gave 835x real time against
/// 762x for 8; with CUDA 8 files gave 1406x and 16 1325x (H200).
pub fn default_jobs(cores: usize, on_gpu: bool) -> usize {
    if on_gpu {
        (cores / 2).max(1)
    } else {
        cores.max(1)
    }
}

/// Seconds of audio in `files` as their headers tell (files whose length is unknown or that
/// do not open count as 0): the total for a progress bar.
pub fn total_seconds(files: &[PlannedFile]) -> f64 {
    files
        .iter()
        .filter_map(|f| AudioReader::open(&f.input).ok())
        .filter_map(|r| {
            r.info()
                .nb_frames
                .map(|n| n as f64 / r.info().sample_rate as f64)
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_disjoint_and_cover_everything() {
        let files: Vec<usize> = (0..23).collect();
        for count in 1..6 {
            let mut all: Vec<usize> = (0..count)
                .flat_map(|i| Shard::new(i, count).unwrap().select(&files))
                .collect();
            all.sort();
            assert_eq!(all, files, "{count} shards");
        }
    }

    #[test]
    fn shard_parsing_and_environment() {
        assert_eq!(Shard::parse("2/5").unwrap(), Shard { index: 2, count: 5 });
        assert!(Shard::parse("5/5").is_err());
        assert!(Shard::parse("x").is_err());
        let slurm = |name: &str| match name {
            "SLURM_ARRAY_TASK_ID" => Some("4".to_string()),
            "SLURM_ARRAY_TASK_MIN" => Some("1".to_string()),
            "SLURM_ARRAY_TASK_COUNT" => Some("8".to_string()),
            _ => None,
        };
        assert_eq!(
            Shard::from_env(slurm, None).unwrap(),
            Some(Shard { index: 3, count: 8 })
        );
        let k8s = |name: &str| (name == "JOB_COMPLETION_INDEX").then(|| "2".to_string());
        assert_eq!(
            Shard::from_env(k8s, Some(3)).unwrap(),
            Some(Shard { index: 2, count: 3 })
        );
        assert!(Shard::from_env(k8s, None).is_err());
        assert_eq!(Shard::from_env(|_| None, None).unwrap(), None);
    }
}
