//! Training data: paired stems in the MUSDB18-HQ layout, excerpt sampling within a frame
//! budget, augmentation, and the magnitude frames the network trains on.
//!
//! ```text
//! DATA/train/<track>/mixture.wav  vocals.wav  bass.wav  ...   (any stem names; mixture optional)
//! DATA/valid/<track>/...          (optional: without it, every 8th training track validates)
//! ```

use crate::audio::{resample, AudioBuffer, AudioReader};
use crate::error::{Error, Result};
use crate::features;
use crate::model::ModelConfig;
use crate::stft::Stft;
use rand::seq::SliceRandom;
use rand::Rng;
use std::path::{Path, PathBuf};
use tch::{Device, Kind, Tensor};

/// Stems of one track may differ in length by at most this many samples (the track is cut to
/// the shortest); more means the stems do not belong together.
pub const MAX_LENGTH_MISMATCH: u64 = 64;

/// The audio file extensions read as stems.
pub const AUDIO_EXTENSIONS: [&str; 4] = ["wav", "flac", "mp3", "ogg"];

/// The mixture's file stem.
pub const MIXTURE: &str = "mixture";

/// One stem file.
#[derive(Debug, Clone)]
pub struct Stem {
    pub name: String,
    pub path: PathBuf,
}

/// A track folder whose stems agree in sample rate, channels and length.
#[derive(Debug, Clone)]
pub struct Track {
    pub name: String,
    pub dir: PathBuf,
    /// Every stem except the mixture, sorted by name; includes the target.
    pub stems: Vec<Stem>,
    pub mixture: Option<PathBuf>,
    pub sample_rate: u32,
    pub nb_channels: usize,
    /// Samples per channel (the shortest stem's length).
    pub nb_samples: u64,
}

impl Track {
    pub fn stem(&self, name: &str) -> Option<&Stem> {
        self.stems.iter().find(|s| s.name == name)
    }

    fn others<'a>(&'a self, target: &'a str) -> impl Iterator<Item = &'a Stem> + 'a {
        self.stems.iter().filter(move |s| s.name != target)
    }
}

/// The discovered training and validation tracks.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub target: String,
    pub train: Vec<Track>,
    pub valid: Vec<Track>,
    /// `valid` (DATA/valid), `held out from train` (every 8th), or `train` (one track only).
    pub valid_source: String,
}

/// Finds and checks every track of `root/train` (and `root/valid` when present) for `target`.
/// Errors say which track and which stem is wrong.
pub fn discover(root: &Path, target: &str) -> Result<Dataset> {
    if !root.is_dir() {
        return Err(Error::file(
            root,
            "not a folder (expected DATA/train/<track>/<stem>.wav)",
        ));
    }
    let train_dir = root.join("train");
    let mut train = discover_split(&train_dir, target)?;
    if train.is_empty() {
        return Err(Error::file(
            &train_dir,
            "no track folders (expected train/<track>/<stem>.wav)",
        ));
    }
    let valid_dir = root.join("valid");
    let (valid, valid_source) =
        if valid_dir.is_dir() && !discover_split(&valid_dir, target)?.is_empty() {
            (discover_split(&valid_dir, target)?, "valid".to_string())
        } else if train.len() >= 2 {
            // Every 8th track (at least one) validates; the rest train.
            let mut valid = Vec::new();
            let mut kept = Vec::new();
            let nb_valid = train.len().div_ceil(8);
            let step = train.len() / nb_valid;
            for (i, track) in train.into_iter().enumerate() {
                if (i + 1) % step == 0 && valid.len() < nb_valid {
                    valid.push(track);
                } else {
                    kept.push(track);
                }
            }
            train = kept;
            (valid, "held out from train (every 8th track)".to_string())
        } else {
            (
                train.clone(),
                "train (only one track: validation is not independent)".to_string(),
            )
        };
    Ok(Dataset {
        target: target.to_string(),
        train,
        valid,
        valid_source,
    })
}

fn discover_split(dir: &Path, target: &str) -> Result<Vec<Track>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs.iter().map(|d| check_track(d, target)).collect()
}

/// Reads the headers of a track's stems and checks that they agree.
pub fn check_track(dir: &Path, target: &str) -> Result<Track> {
    let mut files: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        })
        .filter_map(|p| Some((p.file_stem()?.to_str()?.to_string(), p)))
        .collect();
    files.sort();
    for pair in files.windows(2) {
        if pair[0].0 == pair[1].0 {
            return Err(Error::file(
                &pair[1].1,
                format!(
                    "stem {:?} appears twice (also {})",
                    pair[0].0,
                    pair[0].1.display()
                ),
            ));
        }
    }
    let mut stems = Vec::new();
    let mut mixture = None;
    for (name, path) in files {
        if name == MIXTURE {
            mixture = Some(path);
        } else {
            stems.push(Stem { name, path });
        }
    }
    if !stems.iter().any(|s| s.name == target) {
        let found: Vec<&str> = stems.iter().map(|s| s.name.as_str()).collect();
        return Err(Error::file(
            dir,
            format!(
                "no target stem {target:?} (stems found: {})",
                if found.is_empty() {
                    "none".to_string()
                } else {
                    found.join(", ")
                }
            ),
        ));
    }
    let mut reference: Option<(PathBuf, u32, usize, u64)> = None;
    let mut nb_samples = u64::MAX;
    // The target first, so that messages compare the other files with it.
    let target_path = &stems
        .iter()
        .find(|s| s.name == target)
        .expect("checked above")
        .path;
    let others = stems.iter().filter(|s| s.name != target).map(|s| &s.path);
    for path in std::iter::once(target_path)
        .chain(others)
        .chain(mixture.iter())
    {
        let (rate, channels, len) = stem_info(path)?;
        match &reference {
            None => reference = Some((path.clone(), rate, channels, len)),
            Some((first, r0, c0, l0)) => {
                let first_name = first.file_name().unwrap_or_default().to_string_lossy();
                if rate != *r0 {
                    return Err(Error::file(
                        path,
                        format!("sample rate {rate} Hz, expected {r0} Hz like {first_name}"),
                    ));
                }
                if channels != *c0 {
                    return Err(Error::file(
                        path,
                        format!("{channels} channels, expected {c0} like {first_name}"),
                    ));
                }
                if len.abs_diff(*l0) > MAX_LENGTH_MISMATCH {
                    return Err(Error::file(
                        path,
                        format!("{len} samples, expected {l0} like {first_name} (at most {MAX_LENGTH_MISMATCH} apart)"),
                    ));
                }
            }
        }
        nb_samples = nb_samples.min(len);
    }
    let (_, sample_rate, nb_channels, _) = reference.expect("the target stem exists");
    Ok(Track {
        name: dir
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned(),
        dir: dir.to_path_buf(),
        stems,
        mixture,
        sample_rate,
        nb_channels,
        nb_samples,
    })
}

/// `(sample rate, channels, samples per channel)` of a file; decodes it to count when the
/// container does not say.
fn stem_info(path: &Path) -> Result<(u32, usize, u64)> {
    let reader = AudioReader::open(path)?;
    let info = reader.info();
    let len = match info.nb_frames {
        Some(n) => n,
        None => reader.read_to_end()?.nb_frames() as u64,
    };
    if len == 0 {
        return Err(Error::file(path, "holds no samples"));
    }
    Ok((info.sample_rate, info.nb_channels, len))
}

/// Reads `len` samples per channel from `start` on: `(nb_channels, len)`, zero-padded past the
/// end. WAV files are read by seeking in the file, others by seeking in their container.
pub fn read_excerpt(path: &Path, start: u64, len: usize) -> Result<Vec<Vec<f32>>> {
    let is_wav = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("wav"));
    let mut channels = if is_wav {
        read_wav_excerpt(path, start, len)?
    } else {
        let mut reader = AudioReader::open(path)?;
        reader.seek(start)?;
        let mut out = vec![Vec::with_capacity(len); reader.info().nb_channels];
        while out[0].len() < len {
            let block = reader.read(len - out[0].len())?;
            if block[0].is_empty() {
                break;
            }
            for (o, b) in out.iter_mut().zip(block) {
                o.extend_from_slice(&b);
            }
        }
        out
    };
    for ch in &mut channels {
        ch.resize(len, 0.0);
    }
    Ok(channels)
}

fn read_wav_excerpt(path: &Path, start: u64, len: usize) -> Result<Vec<Vec<f32>>> {
    let bad = |e: hound::Error| Error::file(path, format!("cannot read WAV excerpt: {e}"));
    let mut reader = hound::WavReader::open(path).map_err(bad)?;
    let spec = reader.spec();
    let nb_channels = spec.channels as usize;
    let duration = reader.duration() as u64;
    let mut out = vec![Vec::with_capacity(len); nb_channels];
    if start >= duration {
        return Ok(out);
    }
    reader.seek(start as u32).map_err(|e| Error::io(path, e))?;
    let nb_values = len.min((duration - start) as usize) * nb_channels;
    let mut push = |i: usize, v: f32| -> Result<()> {
        if !v.is_finite() {
            return Err(Error::file(
                path,
                format!(
                    "sample {} is {v} (NaN and infinite samples are refused)",
                    start + (i / nb_channels) as u64
                ),
            ));
        }
        out[i % nb_channels].push(v);
        Ok(())
    };
    match spec.sample_format {
        hound::SampleFormat::Float => {
            for (i, v) in reader.samples::<f32>().take(nb_values).enumerate() {
                push(i, v.map_err(bad)?)?;
            }
        }
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1u64 << (spec.bits_per_sample - 1)) as f32;
            for (i, v) in reader.samples::<i32>().take(nb_values).enumerate() {
                push(i, v.map_err(bad)? as f32 * scale)?;
            }
        }
    }
    Ok(out)
}

/// Which augmentations run on training excerpts (validation and LS frames never augment).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Augment {
    /// The target of one track over the other stems of random other tracks, each at its own
    /// random offset.
    pub mix: bool,
    /// A random gain in 0.25 ..= 1.25 per stem.
    pub gain: bool,
    /// Swap left and right of a stereo stem with probability 1/2, per stem.
    pub swap: bool,
    /// A random EQ per stem (see [`super::augment`]).
    #[serde(default)]
    pub eq: bool,
    /// A random short reverb per stem.
    #[serde(default)]
    pub reverb: bool,
    /// A random speed change (pitch and tempo) per stem.
    #[serde(default)]
    pub speed: bool,
}

impl Augment {
    pub const NONE: Augment = Augment {
        mix: false,
        gain: false,
        swap: false,
        eq: false,
        reverb: false,
        speed: false,
    };
    pub const ALL: Augment = Augment {
        mix: true,
        gain: true,
        swap: true,
        eq: true,
        reverb: true,
        speed: true,
    };

    /// The per-stem effects that are on.
    pub fn stem_effects(&self) -> super::augment::StemEffects {
        super::augment::StemEffects {
            eq: self.eq,
            reverb: self.reverb,
            speed: self.speed,
        }
    }

    /// The names of those that are on.
    pub fn names(&self) -> Vec<String> {
        [
            (self.mix, "mix"),
            (self.gain, "gain"),
            (self.swap, "swap"),
            (self.eq, "eq"),
            (self.reverb, "reverb"),
            (self.speed, "speed"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, n)| n.to_string())
        .collect()
    }
}

/// Magnitude frames for training or validation, stored once and context-stacked per batch.
pub struct FrameSet {
    /// Mixture magnitudes `(nb_store, nb_bins_in)`.
    pub mix: Tensor,
    /// Target magnitudes `(nb_store, nb_bins)`.
    pub target: Tensor,
    /// Rows of `mix` that are centres (their C neighbours lie in the same excerpt): `(nb_centres,)`.
    pub centres: Tensor,
}

impl FrameSet {
    pub fn nb_centres(&self) -> usize {
        self.centres.size()[0] as usize
    }

    /// Bytes held by the frames.
    pub fn nb_bytes(&self) -> usize {
        4 * (self.mix.numel() + self.target.numel()) + 8 * self.centres.numel()
    }

    /// Inputs `(batch, (2C+1) * nb_bins_in)` and targets `(batch, nb_bins)` of the centres at
    /// positions `picks (batch,)` (i64 indices into `centres`).
    pub fn batch(&self, picks: &Tensor, context: usize) -> (Tensor, Tensor) {
        let rows = self.centres.index_select(0, picks);
        (
            features::context_gather(&self.mix, &rows, context),
            self.target.index_select(0, &rows),
        )
    }
}

/// Cuts excerpts into magnitude frames for one model configuration.
pub struct FrameMaker {
    config: ModelConfig,
    stft: Stft,
    device: Device,
    /// Frames at each excerpt edge whose windows reach past it (not used as centres).
    edge: usize,
}

/// Builds a [`FrameSet`] excerpt by excerpt.
struct FrameSetBuilder {
    mix: Vec<f32>,
    target: Vec<f32>,
    centres: Vec<i64>,
    nb_store: i64,
}

impl FrameMaker {
    pub fn new(config: &ModelConfig, device: Device) -> Result<Self> {
        let stft_config = config.stft_config()?;
        Ok(FrameMaker {
            config: config.clone(),
            stft: Stft::new(stft_config),
            device,
            edge: (config.n_fft / 2).div_ceil(config.hop),
        })
    }

    /// Frames of excerpt that are not usable as centres: `2 * (edge + C)`.
    fn margin(&self) -> usize {
        2 * (self.edge + self.config.context)
    }

    /// Samples (at the model rate) of an excerpt holding `nb_centres` centres.
    fn excerpt_len(&self, nb_centres: usize) -> usize {
        (nb_centres + self.margin()).saturating_sub(1) * self.config.hop
    }

    /// Centres in an excerpt of `len` samples at the model rate.
    fn centres_in(&self, len: usize) -> usize {
        self.stft
            .config()
            .nb_frames(len)
            .saturating_sub(self.margin())
    }

    /// Reads `len_model` model-rate samples of `stem` from `start` (in the track's samples),
    /// resampled to the model rate when the track's differs: `(nb_channels, len_model)`.
    fn read(
        &self,
        track: &Track,
        path: &Path,
        start: u64,
        len_model: usize,
    ) -> Result<Vec<Vec<f32>>> {
        let rate = self.config.sample_rate;
        if track.sample_rate == rate {
            return read_excerpt(path, start, len_model);
        }
        let len_src =
            (len_model as u64 * track.sample_rate as u64).div_ceil(rate as u64) as usize + 1;
        let raw = read_excerpt(path, start, len_src)?;
        let mut out = resample(&AudioBuffer::new(track.sample_rate, raw)?, rate)
            .map_err(|e| Error::file(path, e.to_string()))?
            .channels;
        for ch in &mut out {
            ch.resize(len_model, 0.0);
        }
        Ok(out)
    }

    /// Appends one channel pair (mixture, target), at most `max_centres` centres of it.
    fn push(
        &self,
        builder: &mut FrameSetBuilder,
        mix: &[f32],
        target: &[f32],
        max_centres: usize,
    ) -> usize {
        let spec_mix = self.stft.forward(mix);
        let spec_target = self.stft.forward(target);
        let nb_frames = spec_mix.nb_frames();
        let first = self.edge + self.config.context;
        let nb_centres = nb_frames.saturating_sub(self.margin()).min(max_centres);
        if nb_centres == 0 {
            return 0;
        }
        // Keep the frames the chosen centres and their context need.
        let keep = first + nb_centres + self.config.context;
        let (l_in, l) = (self.config.nb_bins_in, self.config.nb_bins);
        for t in 0..keep {
            builder
                .mix
                .extend(spec_mix.frame(t)[..l_in].iter().map(|c| c.norm()));
            builder
                .target
                .extend(spec_target.frame(t)[..l].iter().map(|c| c.norm()));
        }
        builder
            .centres
            .extend((0..nb_centres).map(|i| builder.nb_store + (first + i) as i64));
        builder.nb_store += keep as i64;
        nb_centres
    }

    fn finish(&self, builder: FrameSetBuilder) -> FrameSet {
        let (l_in, l) = (self.config.nb_bins_in as i64, self.config.nb_bins as i64);
        FrameSet {
            mix: Tensor::from_slice(&builder.mix)
                .reshape([builder.nb_store, l_in])
                .to_device(self.device),
            target: Tensor::from_slice(&builder.target)
                .reshape([builder.nb_store, l])
                .to_device(self.device),
            centres: Tensor::from_slice(&builder.centres).to_device(self.device),
        }
    }

    /// Samples `nb_centres` training frames from random excerpts of `excerpt_seconds` of
    /// `tracks`, augmented as `augment` says, drawing every choice from `rng`. Memory:
    /// about `(nb_centres + excerpts * (2 * (edge + C))) * (nb_bins_in + nb_bins) * 4` bytes.
    pub fn sample(
        &self,
        tracks: &[Track],
        target: &str,
        nb_centres: usize,
        excerpt_seconds: f64,
        augment: Augment,
        rng: &mut impl Rng,
    ) -> Result<FrameSet> {
        let rate = self.config.sample_rate as f64;
        let want_len = ((excerpt_seconds * rate) as usize).max(self.excerpt_len(1));
        let usable: Vec<&Track> = tracks
            .iter()
            .filter(|t| self.centres_in(self.model_len(t)) > 0)
            .collect();
        if usable.is_empty() {
            return Err(Error::Invalid(format!(
                "every track is shorter than one network input ({} samples at {} Hz)",
                self.excerpt_len(1),
                self.config.sample_rate
            )));
        }
        let mut builder = FrameSetBuilder {
            mix: Vec::new(),
            target: Vec::new(),
            centres: Vec::new(),
            nb_store: 0,
        };
        let mut have = 0;
        while have < nb_centres {
            let track = *usable.choose(rng).expect("not empty");
            let len = want_len.min(self.model_len(track));
            let start = self.random_start(track, len, rng);
            let mut stems = vec![self.stem_excerpt(track, target, start, len, augment, rng)?];
            let use_mixture = augment == Augment::NONE && track.mixture.is_some();
            if !use_mixture {
                for other in track.others(target) {
                    let (src, src_start) = if augment.mix {
                        let holders: Vec<&Track> = usable
                            .iter()
                            .copied()
                            .filter(|t| t.stem(&other.name).is_some() && self.model_len(t) >= len)
                            .collect();
                        match holders.choose(rng) {
                            Some(t) => (*t, self.random_start(t, len, rng)),
                            None => (track, start),
                        }
                    } else {
                        (track, start)
                    };
                    stems.push(self.stem_excerpt(
                        src,
                        &other.name,
                        src_start,
                        len,
                        augment,
                        rng,
                    )?);
                }
            }
            let target_audio = &stems[0];
            let mix = match (use_mixture, &track.mixture) {
                (true, Some(path)) => self.read(track, path, start, len)?,
                _ => sum_stems(&stems, track.nb_channels),
            };
            for (c, target_ch) in target_audio.iter().enumerate() {
                if have >= nb_centres {
                    break;
                }
                have += self.push(&mut builder, &mix[c], target_ch, nb_centres - have);
            }
        }
        Ok(self.finish(builder))
    }

    /// Validation frames: one excerpt from the middle of each track, no augmentation, about
    /// `nb_centres` in all. Deterministic.
    pub fn fixed(&self, tracks: &[Track], target: &str, nb_centres: usize) -> Result<FrameSet> {
        let mut builder = FrameSetBuilder {
            mix: Vec::new(),
            target: Vec::new(),
            centres: Vec::new(),
            nb_store: 0,
        };
        let per_channel =
            nb_centres.div_ceil(tracks.iter().map(|t| t.nb_channels).sum::<usize>().max(1));
        let mut have = 0;
        for track in tracks {
            let len = self.excerpt_len(per_channel).min(self.model_len(track));
            let start_model = (self.model_len(track) - len) / 2;
            let start =
                start_model as u64 * track.sample_rate as u64 / self.config.sample_rate as u64;
            let target_audio = self.read(
                track,
                &track.stem(target).expect("checked").path,
                start,
                len,
            )?;
            let mix = match &track.mixture {
                Some(path) => self.read(track, path, start, len)?,
                None => {
                    let stems = track
                        .stems
                        .iter()
                        .map(|s| self.read(track, &s.path, start, len))
                        .collect::<Result<Vec<_>>>()?;
                    sum_stems(&stems, track.nb_channels)
                }
            };
            for (c, target_ch) in target_audio.iter().enumerate() {
                have += self.push(&mut builder, &mix[c], target_ch, per_channel);
            }
        }
        if have == 0 {
            return Err(Error::Invalid(format!(
                "the validation tracks are shorter than one network input ({} samples at {} Hz)",
                self.excerpt_len(1),
                self.config.sample_rate
            )));
        }
        Ok(self.finish(builder))
    }

    /// A track's length in model-rate samples.
    fn model_len(&self, track: &Track) -> usize {
        (track.nb_samples * self.config.sample_rate as u64 / track.sample_rate as u64) as usize
    }

    /// A random start (in the track's samples) for an excerpt of `len` model-rate samples.
    fn random_start(&self, track: &Track, len: usize, rng: &mut impl Rng) -> u64 {
        let room = self.model_len(track).saturating_sub(len) as u64;
        let start_model = if room == 0 {
            0
        } else {
            rng.gen_range(0..=room)
        };
        start_model * track.sample_rate as u64 / self.config.sample_rate as u64
    }

    /// One stem's excerpt with gain and channel swap applied: `(nb_channels, len)`.
    fn stem_excerpt(
        &self,
        track: &Track,
        stem: &str,
        start: u64,
        len: usize,
        augment: Augment,
        rng: &mut impl Rng,
    ) -> Result<Vec<Vec<f32>>> {
        let path = &track
            .stem(stem)
            .expect("the caller picked a track with this stem")
            .path;
        let effects = augment.stem_effects();
        let mut audio = self.read(track, path, start, effects.read_len(len))?;
        effects.apply(&mut audio, len, self.config.sample_rate, rng);
        if augment.gain {
            let gain: f32 = rng.gen_range(0.25..=1.25);
            audio.iter_mut().flatten().for_each(|x| *x *= gain);
        }
        if augment.swap && audio.len() == 2 && rng.gen_bool(0.5) {
            audio.swap(0, 1);
        }
        Ok(audio)
    }
}

/// The sum of stems as `nb_channels` channels; a stem with other channels contributes its
/// channel `c % its channels` to channel `c`.
fn sum_stems(stems: &[Vec<Vec<f32>>], nb_channels: usize) -> Vec<Vec<f32>> {
    let len = stems[0][0].len();
    let mut out = vec![vec![0.0f32; len]; nb_channels];
    for stem in stems {
        for (c, o) in out.iter_mut().enumerate() {
            for (x, s) in o.iter_mut().zip(&stem[c % stem.len()]) {
                *x += s;
            }
        }
    }
    out
}

/// Magnitudes of a whole signal: `(nb_frames, nb_bins_keep)` (helper for tests and tools).
pub fn signal_magnitudes(
    stft: &Stft,
    signal: &[f32],
    nb_bins_keep: usize,
    device: Device,
) -> Tensor {
    features::magnitudes(&stft.forward(signal), nb_bins_keep, device).to_kind(Kind::Float)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::{write_wav, SampleFormat};
    use rand::SeedableRng;

    fn tone(freq: f32, rate: u32, len: usize, amp: f32) -> Vec<f32> {
        (0..len)
            .map(|i| amp * (2.0 * std::f32::consts::PI * freq * i as f32 / rate as f32).sin())
            .collect()
    }

    fn write_track(dir: &Path, stems: &[(&str, u32, usize, usize)]) {
        std::fs::create_dir_all(dir).unwrap();
        for (i, (name, rate, channels, len)) in stems.iter().enumerate() {
            let ch = (0..*channels)
                .map(|c| tone(200.0 * (i + c + 1) as f32, *rate, *len, 0.3))
                .collect();
            write_wav(
                dir.join(format!("{name}.wav")),
                &AudioBuffer::new(*rate, ch).unwrap(),
                SampleFormat::Float32,
            )
            .unwrap();
        }
    }

    fn config() -> ModelConfig {
        ModelConfig {
            sample_rate: 8000,
            n_fft: 64,
            hop: 16,
            context: 1,
            nb_bins_in: 20,
            nb_bins: 10,
            ..ModelConfig::default_for("vocals")
        }
    }

    #[test]
    fn discovery_names_the_wrong_track_and_stem() {
        let root = tempfile::tempdir().unwrap();
        write_track(
            &root.path().join("train/a"),
            &[("vocals", 8000, 2, 4000), ("bass", 8000, 2, 4010)],
        );
        write_track(
            &root.path().join("train/b"),
            &[("vocals", 8000, 2, 4000), ("bass", 8000, 1, 4000)],
        );
        let err = discover(root.path(), "vocals").unwrap_err().to_string();
        assert!(
            err.contains("train/b/bass.wav") && err.contains("1 channels, expected 2"),
            "{err}"
        );

        write_track(
            &root.path().join("train/b"),
            &[("vocals", 8000, 2, 4000), ("bass", 16000, 2, 4000)],
        );
        let err = discover(root.path(), "vocals").unwrap_err().to_string();
        assert!(
            err.contains("train/b/bass.wav")
                && err.contains("sample rate 16000 Hz, expected 8000 Hz like vocals.wav"),
            "{err}"
        );

        write_track(
            &root.path().join("train/b"),
            &[("vocals", 8000, 2, 4000), ("bass", 8000, 2, 3000)],
        );
        let err = discover(root.path(), "vocals").unwrap_err().to_string();
        assert!(err.contains("3000 samples, expected"), "{err}");

        write_track(&root.path().join("train/b"), &[("bass", 8000, 2, 4000)]);
        std::fs::remove_file(root.path().join("train/b/vocals.wav")).unwrap();
        let err = discover(root.path(), "vocals").unwrap_err().to_string();
        assert!(
            err.contains("train/b")
                && err.contains("no target stem \"vocals\" (stems found: bass)"),
            "{err}"
        );

        write_track(&root.path().join("train/b"), &[("vocals", 8000, 2, 4000)]);
        let data = discover(root.path(), "vocals").unwrap();
        assert_eq!((data.train.len(), data.valid.len()), (1, 1));
        assert_eq!(data.train[0].nb_samples, 4000);
    }

    #[test]
    fn sampling_is_deterministic_within_budget_and_resamples() {
        let root = tempfile::tempdir().unwrap();
        for t in 0..3 {
            write_track(
                &root.path().join(format!("train/t{t}")),
                &[
                    ("vocals", 16000, 2, 9000 + 500 * t),
                    ("drums", 16000, 2, 9000 + 500 * t),
                    ("bass", 16000, 2, 9000 + 500 * t),
                ],
            );
        }
        let data = discover(root.path(), "vocals").unwrap();
        let maker = FrameMaker::new(&config(), Device::Cpu).unwrap();
        for augment in [Augment::NONE, Augment::ALL] {
            let sample = |seed| {
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
                maker
                    .sample(&data.train, "vocals", 700, 0.25, augment, &mut rng)
                    .unwrap()
            };
            let (a, b, c) = (sample(1), sample(1), sample(2));
            assert_eq!(a.nb_centres(), 700, "{augment:?}");
            assert!(
                a.mix.equal(&b.mix) && a.target.equal(&b.target),
                "{augment:?}: same seed, different frames"
            );
            assert!(
                !a.mix.equal(&c.mix),
                "{augment:?}: different seeds, same frames"
            );
            assert_eq!(a.mix.size()[1], 20);
            assert_eq!(a.target.size()[1], 10);
            let (x, s) = a.batch(&Tensor::from_slice(&[0i64, 5, 699]), 1);
            assert_eq!((x.size(), s.size()), (vec![3, 60], vec![3, 10]));
        }
        let valid = maker.fixed(&data.valid, "vocals", 100).unwrap();
        assert!(valid.nb_centres() >= 100);
    }

    #[test]
    fn wav_excerpt_matches_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.wav");
        let audio = AudioBuffer::new(
            8000,
            vec![tone(300.0, 8000, 1000, 0.5), tone(500.0, 8000, 1000, 0.5)],
        )
        .unwrap();
        for format in [SampleFormat::Pcm16, SampleFormat::Float32] {
            write_wav(&path, &audio, format).unwrap();
            let whole = crate::audio::read_audio(&path).unwrap();
            let part = read_excerpt(&path, 900, 200).unwrap();
            assert_eq!(part[1][..100], whole.channels[1][900..], "{format:?}");
            assert!(part[0][100..].iter().all(|&x| x == 0.0));
        }
    }
}
