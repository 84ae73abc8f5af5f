//! What the stages of a separation share, and nothing that runs them: the settings of one run
//! ([`Engine`]), the facts derived once from the models ([`ModelFacts`]), where blocks come from
//! and go ([`BlockSource`], [`BlockSink`]), and the messages between the stages of the batched
//! path ([`Decoded`], [`Staged`], [`PendingBatch`], [`BatchOut`], [`Encoded`]).
//!
//! Every other file of the pipeline imports this one; it imports none of them but the
//! estimator's interface, so the stages form layers, not a circle.

use super::estimator::{Estimator, EstimatorSpec};
use super::hop_times::HopTimes;
use super::mask::MaskKind;
use super::stages::StageTimes;
use crate::error::{Error, Result};
use crate::stft::{Complex32, StftConfig};
use std::sync::atomic::AtomicBool;
use tch::{Device, Tensor};

/// Where blocks of input come from.
pub(crate) trait BlockSource: Send {
    fn sample_rate(&self) -> u32;
    fn nb_channels(&self) -> usize;
    /// Up to `max_frames` frames, shape `(nb_channels, n)`; `n == 0` only at the end.
    fn read(&mut self, max_frames: usize) -> Result<Vec<Vec<f32>>>;
}

/// Where blocks of output go.
pub(crate) trait BlockSink: Send {
    /// A block of shape `(nb_channels, n)`.
    fn write(&mut self, block: &[Vec<f32>]) -> Result<()>;

    /// Hands what was written on (the low-latency mode calls it after every hop).
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }
}

/// What every stage needs to know of the estimators, derived once when the separator is built
/// (by [`ModelFacts::of`], which also checks that the estimators agree).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ModelFacts {
    /// The STFT set-up every estimator shares.
    pub stft: StftConfig,
    /// The sample rate every estimator shares: the input is resampled to it and back.
    pub sample_rate: u32,
    /// The largest context reach `C * S`: the future frames a frame waits for.
    pub reach: usize,
    /// The largest input band `nb_bins_in`: the magnitude bins kept per frame.
    pub band: usize,
    /// Estimated bins per target, in the estimators' order.
    pub nb_bins_out: Vec<usize>,
}

impl ModelFacts {
    /// Requires at least one estimator, all with the same sample rate and STFT, distinct
    /// targets, and consistent shapes (`nb_bins_in`, `nb_bins` within the STFT's bins).
    pub fn of(estimators: &[Box<dyn Estimator>]) -> Result<Self> {
        let first = estimators
            .first()
            .ok_or_else(|| Error::Invalid("no model to separate with".into()))?
            .spec();
        for (i, e) in estimators.iter().enumerate() {
            let spec = e.spec();
            check_agrees(spec, first)?;
            if estimators[..i]
                .iter()
                .any(|o| o.spec().target == spec.target)
            {
                return Err(Error::Invalid(format!(
                    "two models for the target {:?}",
                    spec.target
                )));
            }
        }
        let specs = || estimators.iter().map(|e| e.spec());
        Ok(ModelFacts {
            stft: first.stft,
            sample_rate: first.sample_rate,
            reach: specs().map(EstimatorSpec::reach).max().unwrap_or(0),
            band: specs().map(|s| s.nb_bins_in).max().unwrap_or(1),
            nb_bins_out: specs().map(|s| s.nb_bins).collect(),
        })
    }
}

/// `spec`'s rate and STFT are `first`'s, and its bands lie within the STFT's bins.
fn check_agrees(spec: &EstimatorSpec, first: &EstimatorSpec) -> Result<()> {
    if spec.sample_rate != first.sample_rate || spec.stft != first.stft {
        return Err(Error::mismatch(
            format!("sample rate and STFT of the {} model", spec.target),
            format!(
                "{} Hz, n_fft {}, hop {} (as the {} model)",
                first.sample_rate,
                first.stft.n_fft(),
                first.stft.hop(),
                first.target
            ),
            format!(
                "{} Hz, n_fft {}, hop {}",
                spec.sample_rate,
                spec.stft.n_fft(),
                spec.stft.hop()
            ),
        ));
    }
    let nb_bins = spec.stft.nb_bins();
    if spec.nb_bins == 0
        || spec.nb_bins > nb_bins
        || spec.nb_bins_in == 0
        || spec.nb_bins_in > nb_bins
    {
        return Err(Error::Invalid(format!(
            "the {} model uses {} input and {} output bins: expected 1 ..= {nb_bins}",
            spec.target, spec.nb_bins_in, spec.nb_bins
        )));
    }
    Ok(())
}

/// Settings of one run, read by both paths ([`super::batched`] and [`super::hop`]).
pub(crate) struct Engine<'a> {
    pub estimators: &'a [Box<dyn Estimator>],
    pub facts: &'a ModelFacts,
    pub mask: MaskKind,
    /// Multichannel Wiener iterations after the masks (on the CPU, in the synthesis stage).
    pub niter: usize,
    /// Frames per network batch (per channel).
    pub batch_frames: usize,
    /// Frames read from the source per step.
    pub block_frames: usize,
    /// Where the low-latency mode records each hop's compute time.
    pub hop_times: Option<&'a HopTimes>,
    /// Checked before every block: once set, the run ends with [`Error::Interrupted`].
    pub stop: Option<&'a AtomicBool>,
    /// `Some(device)`: the tensor path (STFT, features, masks and inverse FFTs through LibTorch
    /// on `device`); `None`: the CPU path (rayon).
    pub tensor_device: Option<Device>,
}

impl Engine<'_> {
    /// Whether the inverse STFT's overlap-add runs on the tensor path's device (it does unless
    /// the multichannel Wiener filter, which runs on the CPU, needs the spectra).
    pub fn overlap_add_on_device(&self) -> bool {
        self.tensor_device.is_some() && self.niter == 0
    }
}

/// From the decode stage to the analysis stage.
pub(crate) enum Decoded {
    /// Input frames as read `(nb_channels, n)` and the same at the model's rate.
    Block {
        raw: Vec<Vec<f32>>,
        model_rate: Vec<Vec<f32>>,
    },
    /// The end of the input: the resampler's last samples.
    End { model_rate: Vec<Vec<f32>> },
}

/// Between the stages after decoding, in order: the input as read, batches `B`, the end.
pub(crate) enum Staged<B> {
    /// Input frames as read (for the residual).
    Mix(Vec<Vec<f32>>),
    Batch(B),
    /// The end: the number of model-rate samples in all.
    End {
        nb_samples: usize,
    },
}

/// One batch of `count` frames per channel on its way from the CPU path's analysis stage to
/// the network stage.
pub(crate) struct PendingBatch {
    pub count: usize,
    /// Per channel, the complex frames `(count, nb_bins)`.
    pub frames: Vec<Vec<Complex32>>,
    /// Per estimator, its input `(nb_channels * count, width)` f32 on the CPU (rows
    /// channel-major).
    pub inputs: Vec<Tensor>,
}

/// One batch of frames `start .. start + count` leaving for the synthesis stage.
pub(crate) enum BatchOut {
    /// CPU path: per channel the complex frames `(count, nb_bins)`, per target the estimates
    /// `(nb_channels * count, nb_bins_out)` (rows channel-major).
    Spectral {
        count: usize,
        frames: Vec<Vec<Complex32>>,
        estimates: Vec<Vec<f32>>,
    },
    /// Tensor path: the samples the batch finished, `(nb_targets, nb_channels, n)` f32 on the
    /// device (model rate, in order; `n` may be 0).
    Samples(Tensor),
}

/// From the network stage (or the tensor path's analysis) to the synthesis stage.
pub(crate) type ToSynthesis = Staged<BatchOut>;

/// Output ready to write: `[target](nb_channels, n)` and the residual (the mix minus the
/// targets) when one is wanted.
pub(crate) struct Encoded {
    pub targets: Vec<Vec<Vec<f32>>>,
    pub residual: Option<Vec<Vec<f32>>>,
}

impl Encoded {
    /// Frames per channel (`n`).
    pub fn nb_frames(&self) -> usize {
        self.targets
            .first()
            .and_then(|t| t.first())
            .map_or(0, Vec::len)
    }
}

/// What a stage ends with: its times, or `None` when it stopped because a neighbour stage ended
/// first (whose own result says why).
pub(crate) type StageResult = Result<Option<StageTimes>>;
