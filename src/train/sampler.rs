//! The data sampler: excerpts of the tracks of a [`Dataset`](crate::dataset::Dataset), augmented,
//! cut into the magnitude frames the network trains on, within a frame budget.

use super::augment::StemEffects;
use crate::audio::{resample, AudioBuffer};
use crate::dataset::{read_excerpt, sum_stems, StemFile, Track};
use crate::error::{Error, Result};
use crate::features;
use crate::model::ModelConfig;
use crate::record::{Augment, TrainSettings};
use crate::stft::Stft;
use rand::seq::SliceRandom;
use rand::Rng;
use tch::{Device, Tensor};

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

    /// Inputs `(batch, (2C+1) * nb_bins_in)` (frames `stride` apart) and targets `(batch,
    /// nb_bins)` of the centres at positions `picks (batch,)` (i64 indices into `centres`).
    pub fn batch(&self, picks: &Tensor, context: usize, stride: usize) -> (Tensor, Tensor) {
        let rows = self.centres.index_select(0, picks);
        (
            features::context_gather(&self.mix, &rows, context, stride),
            self.target.index_select(0, &rows),
        )
    }

    /// The mixture's magnitudes `(batch, nb_bins_in)` of the centres at positions `picks`.
    pub fn centre_mix(&self, picks: &Tensor) -> Tensor {
        self.mix
            .index_select(0, &self.centres.index_select(0, picks))
    }
}

/// How training excerpts are drawn: their length and their augmentations.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExcerptPlan {
    /// Length of each excerpt in seconds.
    pub seconds: f64,
    pub augment: Augment,
    /// With `augment.mix`, the chance that an excerpt's other stems come from random tracks
    /// (see [`TrainSettings::mix_probability`](super::settings::TrainSettings)).
    pub mix_probability: f64,
}

impl ExcerptPlan {
    /// How training excerpts are drawn under `settings`.
    pub fn of(settings: &TrainSettings) -> Self {
        ExcerptPlan {
            seconds: settings.excerpt_seconds,
            augment: settings.augment,
            mix_probability: settings.mix_probability,
        }
    }
}

/// Cuts excerpts into magnitude frames for one model configuration.
#[derive(Clone)]
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
        2 * (self.edge + self.config.reach())
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
        stem: &StemFile,
        start: u64,
        len_model: usize,
    ) -> Result<Vec<Vec<f32>>> {
        let rate = self.config.sample_rate;
        if track.sample_rate == rate {
            return read_excerpt(stem, start, len_model);
        }
        let len_src =
            (len_model as u64 * track.sample_rate as u64).div_ceil(rate as u64) as usize + 1;
        let raw = read_excerpt(stem, start, len_src)?;
        let mut out = resample(&AudioBuffer::new(track.sample_rate, raw)?, rate)
            .map_err(|e| Error::file(&stem.path, e.to_string()))?
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
        let first = self.edge + self.config.reach();
        let nb_centres = nb_frames.saturating_sub(self.margin()).min(max_centres);
        if nb_centres == 0 {
            return 0;
        }
        // Keep the frames the chosen centres and their context need.
        let keep = first + nb_centres + self.config.reach();
        let (l_in, l) = (self.config.nb_bins_in, self.config.nb_bins);
        for t in 0..keep {
            builder.mix.extend(
                spec_mix.frame(t)[..l_in]
                    .iter()
                    .map(|&c| features::magnitude(c)),
            );
            builder.target.extend(
                spec_target.frame(t)[..l]
                    .iter()
                    .map(|&c| features::magnitude(c)),
            );
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

    /// Samples `nb_centres` training frames from random excerpts of `tracks`, drawn and
    /// augmented as `plan` says, drawing every choice from `rng`. Memory:
    /// about `(nb_centres + excerpts * (2 * (edge + C))) * (nb_bins_in + nb_bins) * 4` bytes.
    pub fn sample(
        &self,
        tracks: &[Track],
        target: &str,
        nb_centres: usize,
        plan: ExcerptPlan,
        rng: &mut impl Rng,
    ) -> Result<FrameSet> {
        let ExcerptPlan {
            seconds: excerpt_seconds,
            augment,
            mix_probability,
        } = plan;
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
            let use_mixture = augment == Augment::NONE && track.mixture().is_some();
            // No draw at probability 0 or 1, so those repeat the runs without the setting.
            let remix = augment.mix
                && match mix_probability {
                    p if p >= 1.0 => true,
                    p if p <= 0.0 => false,
                    p => rng.gen_bool(p),
                };
            if !use_mixture {
                for other in track.others(target) {
                    let (src, src_start) = if remix {
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
                // What the stems lack (a missing stem, or all but the target), from the
                // mixture: without it the mixes would hold the target alone, and the network
                // would learn to pass the mix through.
                if track.rest_from_mixture {
                    stems.push(self.rest_excerpt(track, start, len, augment, rng)?);
                }
            }
            let target_audio = &stems[0];
            let mix = match (use_mixture, track.mixture()) {
                (true, Some(mixture)) => self.read(track, mixture, start, len)?,
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
            let target_audio =
                self.read(track, track.stem(target).expect("checked"), start, len)?;
            let mix = match track.mixture() {
                Some(mixture) => self.read(track, mixture, start, len)?,
                None => {
                    let stems = track
                        .stems()
                        .iter()
                        .map(|s| self.read(track, s, start, len))
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

    /// The track's mixture less the sum of its stems (what they lack), with effects, gain and
    /// channel swap as a stem gets them: `(nb_channels, len)`.
    fn rest_excerpt(
        &self,
        track: &Track,
        start: u64,
        len: usize,
        augment: Augment,
        rng: &mut impl Rng,
    ) -> Result<Vec<Vec<f32>>> {
        let effects = StemEffects::of(&augment);
        let read_len = effects.read_len(len);
        let mixture = track.mixture().expect("rest_from_mixture needs a mixture");
        let mut rest = self.read(track, mixture, start, read_len)?;
        for stem in track.stems() {
            let audio = self.read(track, stem, start, read_len)?;
            for (c, r) in rest.iter_mut().enumerate() {
                for (x, s) in r.iter_mut().zip(&audio[c % audio.len()]) {
                    *x -= s;
                }
            }
        }
        Self::vary(&mut rest, len, self.config.sample_rate, augment, rng);
        Ok(rest)
    }

    /// Effects, a random gain and a channel swap on one stem's `audio` (`(nb_channels,
    /// effects' read_len)` in, `(nb_channels, len)` out), as `augment` says.
    fn vary(
        audio: &mut [Vec<f32>],
        len: usize,
        sample_rate: u32,
        augment: Augment,
        rng: &mut impl Rng,
    ) {
        StemEffects::of(&augment).apply(audio, len, sample_rate, rng);
        if augment.gain {
            let gain: f32 = rng.gen_range(0.25..=1.25);
            audio.iter_mut().flatten().for_each(|x| *x *= gain);
        }
        if augment.swap && audio.len() == 2 && rng.gen_bool(0.5) {
            audio.swap(0, 1);
        }
    }

    /// One stem's excerpt with its effects, gain and channel swap applied: `(nb_channels, len)`.
    fn stem_excerpt(
        &self,
        track: &Track,
        stem: &str,
        start: u64,
        len: usize,
        augment: Augment,
        rng: &mut impl Rng,
    ) -> Result<Vec<Vec<f32>>> {
        let file = track
            .stem(stem)
            .expect("the caller picked a track with this stem");
        let effects = StemEffects::of(&augment);
        let mut audio = self.read(track, file, start, effects.read_len(len))?;
        Self::vary(&mut audio, len, self.config.sample_rate, augment, rng);
        Ok(audio)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::{write_wav, SampleFormat};
    use crate::dataset::discover;
    use rand::SeedableRng;
    use std::path::Path;

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
            context_stride: 1,
            nb_bins_in: 20,
            nb_bins: 10,
            ..ModelConfig::default_for("vocals")
        }
    }

    fn plan(augment: Augment, mix_probability: f64) -> ExcerptPlan {
        ExcerptPlan {
            seconds: 0.25,
            augment,
            mix_probability,
        }
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
                    .sample(&data.train, "vocals", 700, plan(augment, 1.0), &mut rng)
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
            let (x, s) = a.batch(&Tensor::from_slice(&[0i64, 5, 699]), 1, 1);
            assert_eq!((x.size(), s.size()), (vec![3, 60], vec![3, 10]));
        }
        let valid = maker.fixed(&data.valid, "vocals", 100).unwrap();
        assert!(valid.nb_centres() >= 100);
    }

    #[test]
    fn mix_probability_zero_keeps_each_track_coherent_and_one_always_remixes() {
        let root = tempfile::tempdir().unwrap();
        for t in 0..4 {
            write_track(
                &root.path().join(format!("train/t{t}")),
                &[
                    ("vocals", 16000, 2, 9000 + 500 * t),
                    ("drums", 16000, 2, 9000 + 500 * t),
                ],
            );
        }
        let data = discover(root.path(), "vocals").unwrap();
        let maker = FrameMaker::new(&config(), Device::Cpu).unwrap();
        let only = |mix| Augment {
            mix,
            ..Augment::NONE
        };
        // Gain only, so that no mixture.wav is read and the stems are summed in every case.
        let gain = |mix| Augment {
            gain: true,
            ..only(mix)
        };
        let sample = |augment, p| {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
            maker
                .sample(&data.train, "vocals", 600, plan(augment, p), &mut rng)
                .unwrap()
        };
        let same = |a: &FrameSet, b: &FrameSet| a.mix.equal(&b.mix) && a.target.equal(&b.target);
        assert!(same(&sample(gain(true), 0.0), &sample(gain(false), 1.0)));
        assert!(same(&sample(gain(true), 1.0), &sample(gain(true), 1.0)));
        assert!(!same(&sample(gain(true), 1.0), &sample(gain(false), 1.0)));
        let half = sample(gain(true), 0.5);
        assert!(!same(&half, &sample(gain(true), 1.0)) && !same(&half, &sample(gain(false), 1.0)));
        assert_eq!(half.nb_centres(), 600);
    }

    /// Tracks of `mixture` and the target alone: augmented mixes hold what the mixture has
    /// beyond the target (was: the target alone, so every augmented epoch taught the network to
    /// pass the mix through, and the validation loss, on real mixtures, rose 8 to 24 times).
    #[test]
    fn the_mixture_gives_what_the_stems_lack() {
        let root = tempfile::tempdir().unwrap();
        for t in 0..3 {
            // mixture = vocals (200 Hz...) + an accompaniment of its own (tones above).
            let dir = root.path().join(format!("train/t{t}"));
            write_track(
                &dir,
                &[("vocals", 8000, 2, 8000), ("mixture", 8000, 2, 8000)],
            );
            let vocals = crate::audio::read_audio(dir.join("vocals.wav")).unwrap();
            let other = crate::audio::read_audio(dir.join("mixture.wav")).unwrap();
            let sum: Vec<Vec<f32>> = vocals
                .channels
                .iter()
                .zip(&other.channels)
                .map(|(v, o)| v.iter().zip(o).map(|(a, b)| a + b).collect())
                .collect();
            write_wav(
                dir.join("mixture.wav"),
                &AudioBuffer::new(8000, sum).unwrap(),
                SampleFormat::Float32,
            )
            .unwrap();
        }
        let data = discover(root.path(), "vocals").unwrap();
        let maker = FrameMaker::new(&config(), Device::Cpu).unwrap();
        for augment in [Augment::NONE, Augment::ALL] {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
            let frames = maker
                .sample(&data.train, "vocals", 600, plan(augment, 1.0), &mut rng)
                .unwrap();
            // The accompaniment's energy lies in bins the target's barely reaches.
            let mix = frames
                .mix
                .narrow(1, 0, 10)
                .sum(tch::Kind::Double)
                .double_value(&[]);
            let target = frames.target.sum(tch::Kind::Double).double_value(&[]);
            assert!(
                mix > 1.3 * target,
                "{augment:?}: mix {mix}, target {target}"
            );
        }
    }
}
