//! The extraction pipeline with a known estimator (half the centre frame), so every output is
//! known: lengths, rates and channels kept, masks, several targets, resampling, streaming equal
//! to one-shot, and the file-level refusals.

use saex::separate::{
    ComputePath, Estimator, EstimatorSpec, MaskKind, OutputFiles, SeparateOptions, Separator,
};
use saex::{read_audio, write_wav, AudioBuffer, SampleFormat, StftConfig};
use tch::{Device, Tensor};

/// Estimates half of the mixture's centre frame: every mask is 0.5, so each output is half the
/// mixture (and the high band, extended from the top of the modelled one, is too).
struct HalfCentre {
    spec: EstimatorSpec,
}

impl HalfCentre {
    fn boxed(target: &str, sample_rate: u32, context: usize, nb_bins: usize) -> Box<dyn Estimator> {
        Box::new(HalfCentre {
            spec: EstimatorSpec {
                target: target.into(),
                sample_rate,
                stft: StftConfig::new(256, 64).unwrap(),
                context,
                context_stride: 1,
                nb_bins_in: nb_bins + 8,
                nb_bins,
            },
        })
    }
}

impl Estimator for HalfCentre {
    fn spec(&self) -> &EstimatorSpec {
        &self.spec
    }

    fn device(&self) -> Device {
        Device::Cpu
    }

    fn estimate(&self, input: &Tensor) -> saex::Result<Tensor> {
        let (c, l) = (self.spec.context as i64, self.spec.nb_bins_in as i64);
        Ok(input.narrow(1, c * l, self.spec.nb_bins as i64) * 0.5)
    }
}

/// `(nb_channels, nb_frames)` of tones below 5 kHz plus a little deterministic noise.
fn mixture(sample_rate: u32, nb_channels: usize, nb_frames: usize) -> AudioBuffer {
    let channels = (0..nb_channels)
        .map(|c| {
            (0..nb_frames)
                .map(|i| {
                    let t = i as f32 / sample_rate as f32;
                    0.4 * (2.0 * std::f32::consts::PI * (220.0 + 110.0 * c as f32) * t).sin()
                        + 0.2 * (2.0 * std::f32::consts::PI * 1800.0 * t).sin()
                        + 0.05 * (((i * 7919 + c * 104_729) % 2003) as f32 / 1001.5 - 1.0)
                })
                .collect()
        })
        .collect();
    AudioBuffer::new(sample_rate, channels).unwrap()
}

fn max_error(a: &AudioBuffer, b: &AudioBuffer, scale: f32) -> f32 {
    a.channels
        .iter()
        .flatten()
        .zip(b.channels.iter().flatten())
        .map(|(x, y)| (x - scale * y).abs())
        .fold(0.0, f32::max)
}

fn options(mask: MaskKind) -> SeparateOptions {
    SeparateOptions {
        mask,
        batch_frames: 16,
        block_frames: 999,
        ..SeparateOptions::default()
    }
}

/// Also with multichannel Wiener iterations (three channels: the general matrix inverse): the
/// target and the residual start equal, so they stay equal.
#[test]
fn every_mask_gives_half_the_mix_with_layout_kept() {
    let mix = mixture(16000, 3, 12_345);
    for (mask, niter) in [
        (MaskKind::Ratio, 0),
        (MaskKind::Wiener, 0),
        (MaskKind::Wiener, 2),
    ] {
        for context in [0, 2] {
            let separator = Separator::new(
                vec![HalfCentre::boxed("vocals", 16000, context, 40)],
                SeparateOptions {
                    niter,
                    ..options(mask)
                },
            )
            .unwrap();
            let out = separator.separate(&mix).unwrap();
            let (name, target) = &out.targets[0];
            assert_eq!(name, "vocals");
            assert_eq!(target.sample_rate, 16000);
            assert_eq!(target.nb_channels(), 3);
            assert_eq!(target.nb_frames(), 12_345);
            // The Wiener iterations' diagonal loading (1e-6 of each value) moves a few
            // ill-conditioned bins slightly: still under one step of 16-bit audio.
            let tolerance = if niter == 0 { 1e-5 } else { 3e-5 };
            let err = max_error(target, &mix, 0.5);
            assert!(
                err < tolerance,
                "{mask:?} niter {niter} context {context}: target max error {err}"
            );
            let err = max_error(&out.residual, &mix, 0.5);
            assert!(
                err < tolerance,
                "{mask:?} niter {niter} context {context}: residual max error {err}"
            );
        }
    }
}

#[test]
fn two_targets_share_the_mix() {
    let mix = mixture(16000, 2, 5000);
    let models = vec![
        HalfCentre::boxed("vocals", 16000, 1, 40),
        HalfCentre::boxed("bass", 16000, 3, 64),
    ];
    let separator = Separator::new(models, options(MaskKind::Wiener)).unwrap();
    assert_eq!(separator.targets(), ["vocals", "bass"]);
    let out = separator.separate(&mix).unwrap();
    for (name, target) in &out.targets {
        let err = max_error(target, &mix, 0.5);
        assert!(err < 1e-5, "{name}: max error {err}");
    }
    let silence = AudioBuffer::silence(16000, 2, 5000);
    assert!(max_error(&out.residual, &silence, 0.0) < 1e-5);
}

#[test]
fn input_at_another_rate_comes_back_at_its_rate() {
    let mix = mixture(44100, 2, 30_001);
    let separator = Separator::new(
        vec![HalfCentre::boxed("vocals", 16000, 1, 40)],
        options(MaskKind::Ratio),
    )
    .unwrap();
    let out = separator.separate(&mix).unwrap();
    let target = &out.targets[0].1;
    assert_eq!((target.sample_rate, target.nb_frames()), (44100, 30_001));
    // The tones lie below the model's Nyquist frequency: resampling there and back keeps them.
    let num: f32 = target
        .channels
        .iter()
        .flatten()
        .zip(mix.channels.iter().flatten())
        .map(|(x, y)| (x - 0.5 * y).powi(2))
        .sum();
    let den: f32 = mix
        .channels
        .iter()
        .flatten()
        .map(|y| (0.5 * y).powi(2))
        .sum();
    let snr = 10.0 * (den / num).log10();
    assert!(snr > 20.0, "SNR after resampling {snr} dB");
}

#[test]
fn streaming_gives_the_same_samples_as_one_shot() {
    let mix = mixture(16000, 2, 20_000);
    let run = |block_frames| {
        let options = SeparateOptions {
            mask: MaskKind::Wiener,
            batch_frames: 32,
            block_frames,
            ..SeparateOptions::default()
        };
        let separator =
            Separator::new(vec![HalfCentre::boxed("vocals", 16000, 3, 40)], options).unwrap();
        separator.separate(&mix).unwrap()
    };
    let whole = run(usize::MAX / 2);
    for block in [1, 333, 4096] {
        let streamed = run(block);
        assert_eq!(streamed.targets[0].1, whole.targets[0].1, "block {block}");
        assert_eq!(streamed.residual, whole.residual, "block {block}");
    }
}

/// The error message of a file separation that must fail.
fn failure(separator: &Separator, input: &std::path::Path, outputs: &OutputFiles) -> String {
    separator
        .separate_file(input, outputs, &mut |_| {})
        .unwrap_err()
        .to_string()
}

#[test]
fn files_keep_length_and_refuse_to_overwrite_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("song.wav");
    write_wav(&input, &mixture(22050, 2, 11_111), SampleFormat::Float32).unwrap();
    let separator = Separator::new(
        vec![HalfCentre::boxed("vocals", 22050, 2, 40)],
        options(MaskKind::Wiener),
    )
    .unwrap();
    let outputs = OutputFiles {
        targets: vec![dir.path().join("vocals.wav")],
        residual: Some(dir.path().join("accompaniment.wav")),
        format: SampleFormat::Pcm24.into(),
    };
    let report = separator
        .separate_file(&input, &outputs, &mut |_| {})
        .unwrap();
    assert_eq!(report.nb_frames, 11_111);
    for path in [&outputs.targets[0], outputs.residual.as_ref().unwrap()] {
        let audio = read_audio(path).unwrap();
        assert_eq!(
            (audio.sample_rate, audio.nb_channels(), audio.nb_frames()),
            (22050, 2, 11_111)
        );
    }

    let onto_input = OutputFiles {
        targets: vec![dir.path().join("./song.wav")],
        residual: None,
        format: SampleFormat::Pcm16.into(),
    };
    let err = failure(&separator, &input, &onto_input);
    assert!(err.contains("song.wav") && err.contains("input"), "{err}");
    assert_eq!(read_audio(&input).unwrap().nb_frames(), 11_111);

    let nowhere = OutputFiles {
        targets: vec![dir.path().join("missing/vocals.wav")],
        residual: None,
        format: SampleFormat::Pcm16.into(),
    };
    let err = failure(&separator, &input, &nowhere);
    assert!(err.contains("vocals.wav"), "{err}");
}

#[test]
fn a_bad_input_leaves_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("broken.wav");
    std::fs::write(&input, b"RIFF\x10\x00\x00\x00WAVEfmt ").unwrap();
    let separator = Separator::new(
        vec![HalfCentre::boxed("vocals", 22050, 2, 40)],
        options(MaskKind::Wiener),
    )
    .unwrap();
    let outputs = OutputFiles {
        targets: vec![dir.path().join("vocals.wav")],
        residual: None,
        format: SampleFormat::Pcm16.into(),
    };
    let err = failure(&separator, &input, &outputs);
    assert!(err.contains("broken.wav"), "{err}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "only the input is left"
    );
}

#[test]
fn models_that_disagree_are_refused() {
    let models = vec![
        HalfCentre::boxed("vocals", 16000, 1, 40),
        HalfCentre::boxed("bass", 22050, 1, 40),
    ];
    assert!(Separator::new(models, SeparateOptions::default()).is_err());
    let models = vec![
        HalfCentre::boxed("vocals", 16000, 1, 40),
        HalfCentre::boxed("vocals", 16000, 1, 40),
    ];
    assert!(Separator::new(models, SeparateOptions::default()).is_err());
}

/// Records what the network is fed, then answers like [`HalfCentre`].
struct Recorder {
    inner: HalfCentre,
    seen: std::sync::Arc<std::sync::Mutex<Vec<Tensor>>>,
}

impl Estimator for Recorder {
    fn spec(&self) -> &EstimatorSpec {
        &self.inner.spec
    }

    fn device(&self) -> Device {
        Device::Cpu
    }

    fn estimate(&self, input: &Tensor) -> saex::Result<Tensor> {
        self.seen.lock().unwrap().push(input.copy());
        self.inner.estimate(input)
    }
}

/// The separator's streamed network input is the layout training uses
/// (`features::context_stack` of the STFT magnitudes), with adjacent frames and every third.
#[test]
fn network_input_matches_the_training_layout() {
    for stride in [1, 3] {
        input_matches_training(stride);
    }
}

fn input_matches_training(stride: usize) {
    let mix = mixture(16000, 1, 7000);
    let spec = EstimatorSpec {
        target: "vocals".into(),
        sample_rate: 16000,
        stft: StftConfig::new(256, 64).unwrap(),
        context: 2,
        context_stride: stride,
        nb_bins_in: 48,
        nb_bins: 40,
    };
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let recorder = Recorder {
        inner: HalfCentre { spec: spec.clone() },
        seen: seen.clone(),
    };
    let options = SeparateOptions {
        mask: MaskKind::Ratio,
        batch_frames: 10,
        block_frames: 500,
        ..SeparateOptions::default()
    };
    let separator = Separator::new(vec![Box::new(recorder)], options).unwrap();
    separator.separate(&mix).unwrap();
    let streamed = Tensor::cat(&seen.lock().unwrap(), 0);
    let stft = saex::Stft::new(spec.stft).forward(&mix.channels[0]);
    let mags = saex::features::magnitudes(&stft, stft.nb_bins, Device::Cpu);
    let expected = saex::features::context_stack(&mags, 2, stride, 48);
    assert_eq!(streamed.size(), expected.size());
    assert!(
        streamed.equal(&expected),
        "stride {stride}: not bit for bit the training layout"
    );
    // Training's own gather (src/train/sampler.rs) at every centre with whole context.
    let frames = saex::features::magnitudes(&stft, 48, Device::Cpu);
    let reach = 2 * stride as i64;
    let centres = Tensor::arange_start(
        reach,
        stft.nb_frames() as i64 - reach,
        (tch::Kind::Int64, Device::Cpu),
    );
    let gathered = saex::features::context_gather(&frames, &centres, 2, stride);
    assert!(gathered.equal(&streamed.index_select(0, &centres)));
}

/// A tiny network with fixed random weights (two layers, ReLU), so the masks vary.
struct TinyNet {
    spec: EstimatorSpec,
    w1: Tensor,
    w2: Tensor,
}

impl TinyNet {
    fn boxed(target: &str, context: usize, stride: usize, seed: i64) -> Box<dyn Estimator> {
        let spec = EstimatorSpec {
            target: target.into(),
            sample_rate: 16000,
            stft: StftConfig::new(256, 64).unwrap(),
            context,
            context_stride: stride,
            nb_bins_in: 60,
            nb_bins: 50,
        };
        let width = ((2 * context + 1) * 60) as i64;
        // Deterministic "random" weights: the same in every run and thread.
        let weights = |rows: i64, cols: i64, step: f64| {
            (Tensor::arange(rows * cols, (tch::Kind::Float, Device::Cpu)) * step + seed as f64)
                .sin()
                .abs()
                .view([rows, cols])
        };
        Box::new(TinyNet {
            w1: weights(width, 32, 0.37) / width as f64,
            w2: weights(32, 50, 0.11),
            spec,
        })
    }
}

impl Estimator for TinyNet {
    fn spec(&self) -> &EstimatorSpec {
        &self.spec
    }

    fn device(&self) -> Device {
        Device::Cpu
    }

    fn estimate(&self, input: &Tensor) -> saex::Result<Tensor> {
        Ok(input.matmul(&self.w1).relu().matmul(&self.w2))
    }
}

/// The tensor path (what runs on CUDA), here on the CPU, gives the CPU path's samples within
/// one step of 16-bit audio, for both masks, Wiener iterations, two targets, resampling and the
/// residual.
#[test]
fn tensor_path_matches_the_cpu_path() {
    let mix = mixture(22050, 2, 30_000);
    for (mask, niter) in [
        (MaskKind::Wiener, 0),
        (MaskKind::Ratio, 0),
        (MaskKind::Wiener, 1),
    ] {
        let run = |path| {
            let options = SeparateOptions {
                mask,
                niter,
                batch_frames: 40,
                block_frames: 4000,
                path,
                ..SeparateOptions::default()
            };
            let models = vec![
                TinyNet::boxed("vocals", 2, 1, 1),
                // Every second frame: the two reach 2 and 4 frames.
                TinyNet::boxed("drums", 2, 2, 2),
            ];
            Separator::new(models, options)
                .unwrap()
                .separate(&mix)
                .unwrap()
        };
        let cpu = run(ComputePath::Cpu);
        let tensor = run(ComputePath::Tensor);
        let lsb = 1.0 / 32768.0;
        for ((name, a), (_, b)) in cpu.targets.iter().zip(&tensor.targets) {
            let err = max_error(a, b, 1.0);
            assert!(err < lsb, "{mask:?} {name}: {err}");
            assert!(
                a.channels[0].iter().any(|x| x.abs() > 0.01),
                "{name} is silent"
            );
        }
        assert!(max_error(&cpu.residual, &tensor.residual, 1.0) < lsb);
    }
}

/// Streaming through the concurrent stages is deterministic: blocks of every size and
/// batches that do not divide the signal give the same samples, run after run, on both paths.
#[test]
fn streamed_tensor_path_equals_one_shot() {
    let mix = mixture(16000, 2, 12_345);
    let run = |block_frames| {
        let options = SeparateOptions {
            mask: MaskKind::Wiener,
            niter: 0,
            batch_frames: 23,
            block_frames,
            path: ComputePath::Tensor,
            ..SeparateOptions::default()
        };
        let separator = Separator::new(vec![TinyNet::boxed("vocals", 3, 1, 7)], options).unwrap();
        separator.separate(&mix).unwrap()
    };
    let whole = run(usize::MAX / 2);
    for block in [1, 500, 4096] {
        let streamed = run(block);
        assert_eq!(streamed.targets[0].1, whole.targets[0].1, "block {block}");
        assert_eq!(streamed.residual, whole.residual, "block {block}");
    }
}
