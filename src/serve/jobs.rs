//! Separation jobs: each upload becomes a job with its own folder in the server's private
//! temporary folder; a bounded queue feeds one worker thread that runs the separation through
//! the library ([`Separator::separate_file`]), writes the mix as WAV for the page's players and
//! draws the spectrogram figure. Jobs finished longer ago than the keep time are removed with
//! their files.

use super::models::ModelEntry;
use crate::separate::{MaskKind, OutputFiles, SeparatorSettings, Stems};
use serde::Serialize;
use std::collections::HashMap;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A job's identifier: 32 hex digits from the OS's random source, so jobs cannot be guessed.
type JobId = String;

/// Whether `text` has the form of a [`JobId`] (checked before any lookup).
pub fn is_job_id(text: &str) -> bool {
    text.len() == 32
        && text
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

fn new_job_id() -> JobId {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where a job is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "state", content = "message")]
pub enum JobState {
    Queued,
    Running,
    Done,
    Failed(String),
    Cancelled,
}

/// One uploaded file and what to do with it.
pub struct Job {
    pub id: JobId,
    /// The name the browser gave the file, for display only (never a path).
    pub name: String,
    /// This job's folder (inside the server's temporary folder), named by the id.
    pub dir: PathBuf,
    /// The upload, as `dir/input.<known extension>`.
    pub input: PathBuf,
    pub models: Vec<ModelEntry>,
    pub mask: MaskKind,
    pub niter: usize,
    pub state: Mutex<JobState>,
    /// Progress in thousandths.
    pub progress: AtomicU32,
    /// Set by a cancel request or at shutdown; the separation stops at its next block.
    pub cancel: Arc<AtomicBool>,
    pub finished: Mutex<Option<Instant>>,
    /// Seconds of audio, once known.
    pub seconds: Mutex<Option<f64>>,
}

/// What the page is told about a job.
#[derive(Debug, Serialize)]
pub struct JobView {
    pub id: String,
    pub name: String,
    #[serde(flatten)]
    pub state: JobState,
    pub progress: f32,
    /// The playable signals: `mix`, each target, `residual` (when done).
    pub stems: Vec<String>,
    pub seconds: Option<f64>,
}

impl Job {
    /// The signals a finished job serves: the mix, each target, the residual (`other` when
    /// the targets are vocals, drums and bass: the fourth of four stems).
    pub fn stems(&self) -> Vec<String> {
        let mut stems = vec!["mix".to_string()];
        stems.extend(self.models.iter().map(|m| m.target.clone()));
        let residual = match Stems::of_targets(&stems[1..]) {
            Some(Stems::Four) => Stems::Four.residual_name(),
            _ => "residual",
        };
        stems.push(residual.to_string());
        stems
    }

    /// The WAV file of a stem named in [`Job::stems`]; `None` for any other name, so a name
    /// from a request is only ever compared, never joined to a path.
    pub fn stem_file(&self, stem: &str) -> Option<PathBuf> {
        let index = self.stems().iter().position(|s| s == stem)?;
        Some(self.dir.join(format!("stem{index}.wav")))
    }

    pub fn plot_file(&self) -> PathBuf {
        self.dir.join("spectrogram.png")
    }

    pub fn state(&self) -> JobState {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set_state(&self, state: JobState) {
        let done = !matches!(state, JobState::Queued | JobState::Running);
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = state;
        if done {
            *self.finished.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        }
    }

    pub fn view(&self) -> JobView {
        let state = self.state();
        JobView {
            id: self.id.clone(),
            name: self.name.clone(),
            stems: if state == JobState::Done {
                self.stems()
            } else {
                Vec::new()
            },
            state,
            progress: self.progress.load(Ordering::Relaxed) as f32 / 1000.0,
            seconds: *self.seconds.lock().unwrap_or_else(|e| e.into_inner()),
        }
    }

    /// Asks the job to stop: a queued job is cancelled at once, a running one at its next
    /// block. Returns false when it had already ended.
    pub fn request_cancel(&self) -> bool {
        self.cancel.store(true, Ordering::SeqCst);
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match *state {
            JobState::Queued => {
                *state = JobState::Cancelled;
                drop(state);
                *self.finished.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
                true
            }
            JobState::Running => true,
            _ => false,
        }
    }
}

/// Every job, and the queue to the worker.
pub struct Jobs {
    /// The server's private temporary folder (mode 0700), removed when this is dropped.
    root: tempfile::TempDir,
    jobs: Mutex<HashMap<JobId, Arc<Job>>>,
    queue: SyncSender<Arc<Job>>,
    queue_len: usize,
    /// How long a finished job's files are kept.
    pub keep: Duration,
}

/// Why a job was not queued.
#[derive(Debug)]
pub enum Refused {
    /// The queue holds as many jobs as it may.
    QueueFull(usize),
    /// The worker is gone (the server is stopping).
    Stopping,
}

impl Jobs {
    /// A job table in a new private temporary folder, and the receiving end of its queue of
    /// `queue_len` waiting jobs for [`run_worker`].
    pub fn new(queue_len: usize, keep: Duration) -> std::io::Result<(Self, Receiver<Arc<Job>>)> {
        let root = tempfile::Builder::new().prefix("saex-serve-").tempdir()?;
        // Private whatever the umask: other local users must not read the uploads.
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o700))?;
        let (queue, rx) = std::sync::mpsc::sync_channel(queue_len);
        let jobs = Jobs {
            root,
            jobs: Mutex::new(HashMap::new()),
            queue,
            queue_len,
            keep,
        };
        Ok((jobs, rx))
    }

    /// The private temporary folder.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// A new job's id and folder (created, empty) and the input path for an upload of the
    /// given known extension (see [`super::routes`]).
    pub fn prepare(&self, extension: &str) -> std::io::Result<(JobId, PathBuf, PathBuf)> {
        let id = new_job_id();
        let dir = self.root.path().join(&id);
        std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
        let input = dir.join(format!("input.{extension}"));
        Ok((id, dir, input))
    }

    /// Registers `job` and queues it; when the queue is full the job is dropped (with its
    /// folder) and the caller answers 503.
    pub fn submit(&self, job: Job) -> Result<Arc<Job>, Refused> {
        let job = Arc::new(job);
        match self.queue.try_send(Arc::clone(&job)) {
            Ok(()) => {
                self.lock().insert(job.id.clone(), Arc::clone(&job));
                Ok(job)
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&job.dir);
                Err(match e {
                    TrySendError::Full(_) => Refused::QueueFull(self.queue_len),
                    TrySendError::Disconnected(_) => Refused::Stopping,
                })
            }
        }
    }

    pub fn get(&self, id: &str) -> Option<Arc<Job>> {
        self.lock().get(id).cloned()
    }

    /// Every job, by name.
    pub fn list(&self) -> Vec<Arc<Job>> {
        let mut all: Vec<Arc<Job>> = self.lock().values().cloned().collect();
        all.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        all
    }

    /// Removes a job and its folder (its separation, if running, is cancelled first).
    pub fn remove(&self, id: &str) -> bool {
        let job = self.lock().remove(id);
        match job {
            Some(job) => {
                job.request_cancel();
                // A running job's folder goes when the worker sees the cancel (see run_one).
                if job.state() != JobState::Running {
                    let _ = std::fs::remove_dir_all(&job.dir);
                }
                true
            }
            None => false,
        }
    }

    /// Removes the jobs that ended more than [`Jobs::keep`] ago; returns how many.
    pub fn expire(&self) -> usize {
        let old: Vec<JobId> = self
            .lock()
            .values()
            .filter(|j| {
                j.finished
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .is_some_and(|t| t.elapsed() >= self.keep)
            })
            .map(|j| j.id.clone())
            .collect();
        old.iter().filter(|id| self.remove(id)).count()
    }

    /// Cancels every job (at shutdown).
    pub fn cancel_all(&self) {
        for job in self.lock().values() {
            job.request_cancel();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<JobId, Arc<Job>>> {
        self.jobs.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The worker: takes queued jobs one at a time until `stop` is set or the queue is closed.
/// One at a time because one separation already uses every core. Runs on its own thread
/// (LibTorch and rayon block), with LibTorch's threads set for it by the caller's plan.
pub fn run_worker(rx: Receiver<Arc<Job>>, device: tch::Device, stop: Arc<AtomicBool>) {
    loop {
        let job = match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(job) => job,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                continue;
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
        };
        if stop.load(Ordering::SeqCst) {
            return;
        }
        {
            let mut state = job.state.lock().unwrap_or_else(|e| e.into_inner());
            if *state != JobState::Queued {
                // Cancelled while it waited: its upload is not needed.
                let _ = std::fs::remove_dir_all(&job.dir);
                continue;
            }
            *state = JobState::Running;
        }
        let outcome = run_one(&job, device).and_then(|()| keep_private(&job.dir));
        if job.cancel.load(Ordering::SeqCst) {
            // Cancelled (or removed) while it ran: its results are not wanted, nor the upload.
            let _ = std::fs::remove_dir_all(&job.dir);
            job.set_state(JobState::Cancelled);
            continue;
        }
        match outcome {
            Ok(()) => job.set_state(JobState::Done),
            Err(crate::Error::Interrupted) => job.set_state(JobState::Cancelled),
            // Messages name the upload as the user knows it, not the temporary path.
            Err(e) => job.set_state(JobState::Failed(
                e.to_string()
                    .replace(&job.input.display().to_string(), &job.name)
                    .replace(&job.dir.display().to_string(), ""),
            )),
        }
    }
}

/// Makes every file of a job's folder readable by this user only (0600): the writers create
/// them as the umask says, as files the command line writes should be.
fn keep_private(dir: &Path) -> crate::Result<()> {
    for entry in std::fs::read_dir(dir).map_err(|e| crate::Error::io(dir, e))? {
        let path = entry.map_err(|e| crate::Error::io(dir, e))?.path();
        if path.is_file() {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| crate::Error::io(&path, e))?;
        }
    }
    Ok(())
}

/// Separates one job's upload into `stem1.wav ...` (targets, then the residual), writes the
/// mix as `stem0.wav` and draws `spectrogram.png`. Progress: the separation is 90 %.
fn run_one(job: &Job, device: tch::Device) -> crate::Result<()> {
    let settings = SeparatorSettings {
        models: job.models.iter().map(|m| m.dir.clone()).collect(),
        device,
        mask: Some(job.mask),
        niter: job.niter,
        ..SeparatorSettings::default()
    };
    let separator = settings.build()?.with_stop(Arc::clone(&job.cancel));
    let stems = job.stems();
    let file = |name: &str| job.stem_file(name).expect("a stem of this job");
    let (residual, targets) = stems[1..].split_last().expect("a job has targets");
    let outputs = OutputFiles {
        targets: targets.iter().map(|s| file(s)).collect(),
        residual: Some(file(residual)),
        format: crate::SampleFormat::Pcm16.into(),
    };
    let reader = crate::AudioReader::open(&job.input)?;
    let info = reader.info();
    if let Some(frames) = info.nb_frames {
        *job.seconds.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(frames as f64 / f64::from(info.sample_rate));
    }
    let total = info.nb_frames.unwrap_or(0).max(1);
    separator.separate_reader(reader, &outputs, &mut |done| {
        let share = (done.min(total) * 900 / total) as u32;
        job.progress.store(share, Ordering::Relaxed);
    })?;
    if job.cancel.load(Ordering::SeqCst) {
        return Err(crate::Error::Interrupted);
    }
    let mix = crate::read_audio(&job.input)?;
    *job.seconds.lock().unwrap_or_else(|e| e.into_inner()) = Some(mix.duration_secs());
    crate::write_wav(file("mix"), &mix, crate::SampleFormat::Pcm16)?;
    drop(mix);
    job.progress.store(950, Ordering::Relaxed);
    let targets: Vec<(String, PathBuf)> = targets.iter().map(|s| (s.clone(), file(s))).collect();
    crate::spectrogram::write_separation_png(
        &job.plot_file(),
        &job.name,
        &file("mix"),
        &targets,
        Some(&file(residual)),
    )?;
    job.progress.store(1000, Ordering::Relaxed);
    Ok(())
}
