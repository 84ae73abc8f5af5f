//! Where outputs go, decided before any work: the paths of one input's outputs
//! ([`OutputFiles`]), filename templates that name them ([`Template`], the layouts of
//! `saex batch --filename` and of `saex extract`), and the checks over a whole run
//! ([`check_run`]): formats, an output that is its input, two outputs that are one file.

use crate::atomic::{identity, is_stdio};
use crate::audio::OutputFormat;
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

/// Where [`Separator::separate_file`] writes.
#[derive(Debug, Clone)]
pub struct OutputFiles {
    /// One path per target, in the estimators' order; or none, when only the residual is
    /// wanted (karaoke: the targets are computed and dropped).
    pub targets: Vec<PathBuf>,
    pub residual: Option<PathBuf>,
    /// Sample format, clipping, and the container (by default each path's extension).
    pub format: OutputFormat,
}

impl OutputFiles {
    /// Every output path: the targets, then the residual.
    pub fn paths(&self) -> impl Iterator<Item = &PathBuf> {
        self.targets.iter().chain(&self.residual)
    }

    /// Checks the outputs before any work: each has a format saex writes (see
    /// [`OutputFormat::container_for`]), no two are one file (links followed), none is
    /// `input`, and a bit rate is asked for only where some output is lossy (it was ignored
    /// without a word for FLAC and WAV).
    pub fn check(&self, input: Option<&Path>) -> Result<()> {
        let input = input.map(identity);
        let mut seen: Vec<(PathBuf, &PathBuf)> = Vec::new();
        let mut lossy = false;
        for path in self.paths() {
            lossy |= self.format.container_for(path)?.is_lossy();
            let id = identity(path);
            if input.as_ref() == Some(&id) && !is_stdio(path) {
                return Err(Error::file(
                    path,
                    "is the input file: refusing to overwrite the input",
                ));
            }
            if let Some((_, other)) = seen.iter().find(|(o, _)| *o == id) {
                return Err(Error::file(
                    path,
                    format!(
                        "is named for two outputs ({} and {}): give each output its own file",
                        other.display(),
                        path.display()
                    ),
                ));
            }
            seen.push((id, path));
        }
        if let (Some(kbps), false, Some(first)) = (self.format.bitrate, lossy, self.paths().next())
        {
            return Err(Error::file(
                first,
                format!(
                    "--bitrate {kbps} applies to MP3 and Ogg Vorbis outputs, and this one is \
                     lossless: leave --bitrate out, or name the output .mp3 or .ogg"
                ),
            ));
        }
        Ok(())
    }
}

/// The placeholders a filename template may use.
const PLACEHOLDERS: [&str; 5] = ["track", "name", "folder", "target", "ext"];

/// The default layout of `saex batch`: one folder per track, one file per target.
pub const DEFAULT_TEMPLATE: &str = "{track}/{target}.wav";

/// A filename template, checked ([`Template::new`]): outputs are named by filling
/// `{track}` (the input's path below the input folder without extension, e.g. `album/song`),
/// `{name}` (its file name without extension), `{folder}` (its folder below the input folder,
/// e.g. `album`; empty for a file directly in it), `{ext}` (its extension) and `{target}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(String);

impl Template {
    /// Checks `template`: it must name the target, and the track, the name or the folder; it
    /// may use only [`PLACEHOLDERS`]; it stays below the output folder (relative, no `..`);
    /// and it ends in an extension (the output format follows it).
    pub fn new(template: &str) -> Result<Self> {
        let bad = |why: &str| {
            Err(Error::Invalid(format!(
                "filename template {template:?}: {why}"
            )))
        };
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}') else {
                return bad("a { without its }");
            };
            let name = &rest[open + 1..open + close];
            if !PLACEHOLDERS.contains(&name) {
                return bad(&format!(
                    "unknown placeholder {{{name}}}: expected {{track}}, {{name}}, {{folder}}, \
                     {{ext}} or {{target}}"
                ));
            }
            rest = &rest[open + close + 1..];
        }
        if !template.contains("{target}")
            || !["{track}", "{name}", "{folder}"]
                .iter()
                .any(|p| template.contains(p))
        {
            return bad("it must contain {target} and {track}, {name} or {folder}");
        }
        if below(Path::new(template)).is_none() {
            return bad("it must stay below the output folder (a relative path without ..)");
        }
        let last = template.rsplit('/').next().unwrap_or(template);
        match last.rsplit_once('.').map(|(_, ext)| ext) {
            Some(ext) if !ext.is_empty() && !ext.contains('{') => Ok(Template(template.into())),
            _ => bad("it must end in an extension, e.g. .wav or .flac (the format follows it)"),
        }
    }

    /// The path of `target`'s output for `input` (a file under the input folder `root`), below
    /// `out_dir`. Placeholders that come out empty (`{folder}` of a file directly under `root`)
    /// leave no empty folder name behind: `{folder}/{target}.wav` gives `out_dir/vocals.wav`,
    /// never `/vocals.wav`. A path that would not stay below `out_dir` (an input outside
    /// `root`, nothing but separators) is refused, naming the input.
    pub fn fill(&self, out_dir: &Path, root: &Path, input: &Path, target: &str) -> Result<PathBuf> {
        let relative = input.strip_prefix(root).unwrap_or(input);
        let text = |s: Option<&std::ffi::OsStr>| s.map(|s| s.to_string_lossy().into_owned());
        let filled = self
            .0
            .replace("{track}", &relative.with_extension("").to_string_lossy())
            .replace(
                "{folder}",
                &text(relative.parent().map(Path::as_os_str)).unwrap_or_default(),
            )
            .replace("{name}", &text(input.file_stem()).unwrap_or_default())
            .replace("{ext}", &text(input.extension()).unwrap_or_default())
            .replace("{target}", target);
        match below(Path::new(filled.trim_start_matches('/'))) {
            Some(path) if path.file_name().is_some() => Ok(out_dir.join(path)),
            _ => Err(Error::file(
                input,
                format!(
                    "the filename template {:?} gives {filled:?}, which is not a file below the \
                     output folder {}",
                    self.0,
                    out_dir.display()
                ),
            )),
        }
    }
}

/// `path` without empty and `.` components, if it is relative and has no `..`.
fn below(path: &Path) -> Option<PathBuf> {
    path.components()
        .filter(|c| *c != Component::CurDir)
        .map(|c| match c {
            Component::Normal(part) => Some(part),
            _ => None,
        })
        .collect()
}

/// Checks every input's outputs of a run before any work: each as
/// [`OutputFiles::check`] does, and no output shared by two inputs (e.g. `song.wav` and
/// `song.mp3` under one template; standard output, `-`, counts as one output too).
pub fn check_run<'a>(files: impl IntoIterator<Item = (&'a Path, &'a OutputFiles)>) -> Result<()> {
    let mut seen: HashMap<PathBuf, (&Path, &PathBuf)> = HashMap::new();
    for (input, outputs) in files {
        outputs.check(Some(input))?;
        for path in outputs.paths() {
            if let Some((other_input, other)) = seen.insert(identity(path), (input, path)) {
                return Err(Error::Invalid(format!(
                    "{} and {} would both write {}{}: give each input its own output names",
                    other_input.display(),
                    input.display(),
                    path.display(),
                    if other == path {
                        String::new()
                    } else {
                        format!(" (also named {})", other.display())
                    }
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(template: &str, input: &str, target: &str) -> Result<PathBuf> {
        Template::new(template)?.fill(Path::new("out"), Path::new("in"), Path::new(input), target)
    }

    #[test]
    fn outputs_follow_the_template() {
        let song = "in/album/song.flac";
        for (template, target, expected) in [
            (DEFAULT_TEMPLATE, "vocals", "out/album/song/vocals.wav"),
            ("{name}_{target}.wav", "bass", "out/song_bass.wav"),
            (
                "{track}.{ext}/{target}.flac",
                "bass",
                "out/album/song.flac/bass.flac",
            ),
            ("{folder}/{target}.wav", "vocals", "out/album/vocals.wav"),
        ] {
            assert_eq!(
                fill(template, song, target).unwrap(),
                Path::new(expected),
                "{template}"
            );
        }
        for (bad, says) in [
            ("{track}.wav", "must contain"),
            ("{track}/{target}", "extension"),
            ("{track}/{target}.{ext}", "extension"),
            ("../{track}/{target}.wav", "below the output folder"),
            ("/tmp/{track}/{target}.wav", "below the output folder"),
            ("{track}/{stem}.wav", "unknown placeholder {stem}"),
        ] {
            let err = Template::new(bad).unwrap_err().to_string();
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    /// A mix directly under the input folder has an empty `{folder}`: the README's MUSDB
    /// template once wrote `/vocals.wav` and `/NAME/vocals.wav` for it.
    #[test]
    fn empty_placeholders_stay_below_the_output_folder() {
        assert_eq!(
            fill("{folder}/{target}.wav", "in/mixture.wav", "vocals").unwrap(),
            Path::new("out/vocals.wav")
        );
        assert_eq!(
            fill(
                "{folder}/{name}/{target}.wav",
                "in/mixture.wav",
                "accompaniment"
            )
            .unwrap(),
            Path::new("out/mixture/accompaniment.wav")
        );
        // Nothing a placeholder brings (a path outside the input folder, a name with `..`)
        // leads above the output folder.
        assert_eq!(
            fill("{track}/{target}.wav", "/elsewhere/song.wav", "vocals").unwrap(),
            Path::new("out/elsewhere/song/vocals.wav")
        );
        let err = fill("{name}/{target}.wav", "in/song.wav", "../../x").unwrap_err();
        assert!(
            err.to_string()
                .contains("not a file below the output folder"),
            "{err}"
        );
    }

    /// `--bitrate` with FLAC was ignored without a word.
    #[test]
    fn a_bit_rate_needs_a_lossy_output() {
        let outputs = |paths: &[&str]| OutputFiles {
            targets: paths.iter().map(PathBuf::from).collect(),
            residual: None,
            format: OutputFormat {
                bitrate: Some(128),
                ..OutputFormat::default()
            },
        };
        let err = outputs(&["v.flac"]).check(None).unwrap_err().to_string();
        assert!(
            err.contains("--bitrate 128 applies to MP3 and Ogg Vorbis"),
            "{err}"
        );
        outputs(&["v.mp3"]).check(None).unwrap();
        // One lossy output among lossless ones takes it.
        outputs(&["v.mp3", "acc.wav"]).check(None).unwrap();
    }

    #[test]
    fn a_run_refuses_one_output_for_two_inputs() {
        let outputs = |path: &str| OutputFiles {
            targets: vec![PathBuf::from(path)],
            residual: None,
            format: OutputFormat::default(),
        };
        let (a, b) = (outputs("x/vocals.wav"), outputs("x/vocals.wav"));
        let err = check_run([(Path::new("a.wav"), &a), (Path::new("b.mp3"), &b)]).unwrap_err();
        assert!(
            err.to_string()
                .contains("a.wav and b.mp3 would both write x/vocals.wav"),
            "{err}"
        );
        let c = outputs("y/vocals.wav");
        check_run([(Path::new("a.wav"), &a), (Path::new("b.mp3"), &c)]).unwrap();
        // Standard output is one output too.
        let (d, e) = (outputs("-"), outputs("-"));
        let err = check_run([(Path::new("a.wav"), &d), (Path::new("b.mp3"), &e)]).unwrap_err();
        assert!(err.to_string().contains("would both write -"), "{err}");
    }
}
