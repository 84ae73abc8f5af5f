//! Extraction: the whole pipeline from a mixture to one file per target (and the residual),
//! streaming, so memory stays flat however long the input is.

mod analysis;
mod batched;
mod builder;
mod cpu_front;
mod estimator;
mod hop;
mod hop_times;
mod latency;
mod mask;
mod model_estimator;
mod network_stage;
mod output_queue;
mod pipeline;
mod stages;
mod stems;
mod synthesis;
mod tensor_front;
mod tensor_ops;
mod tensor_overlap_add;
mod wiener;

pub use builder::SeparatorSettings;
pub use estimator::{Estimator, EstimatorSpec};
pub use hop::{HopOutput, HopProcessor};
pub(crate) use hop_times::thread_cpu_time;
pub use hop_times::{summarize, HopSummary, HopTimes};
pub use latency::{algorithmic_latency, Latency};

pub use mask::{extend_high_band, frame_masks, MaskKind};
pub use model_estimator::ModelEstimator;
pub use stages::StageTimes;
pub use stems::Stems;

pub use crate::outputs::OutputFiles;

use crate::audio::{AudioBuffer, AudioReader, AudioWriter, WriteReport};
use crate::error::{Error, Result};
use pipeline::{BlockSink, BlockSource, Engine, ModelFacts};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Settings of a separation.
#[derive(Debug, Clone)]
pub struct SeparateOptions {
    pub mask: MaskKind,
    /// Iterations of the multichannel Wiener filter after the masks (see `wiener`); 0: the
    /// masks alone.
    pub niter: usize,
    /// Frames per network batch and channel (larger: fuller matrix products, more memory); 16
    /// times as many on the tensor path on CUDA. 256 on the CPU: a batch's network input (2
    /// channels x 7 frames x 513 bins in f32, 7.3 MB) then stays nearer the caches; on a lent
    /// H100 machine (2026-11-26, 3-minute files, `saex batch`) one core went from 75-91x real
    /// time at 512 to 101-125x, 16 cores with 16 files at once from 823-941x to 964-1053x; the
    /// 2-core build machine was unchanged (1.73-1.82 s per file either way).
    pub batch_frames: usize,
    /// Input frames decoded per step.
    pub block_frames: usize,
    /// Where the signal processing around the network runs.
    pub path: ComputePath,
    /// The precision of the networks' matrix products (f32 by default here; `saex extract`
    /// and `saex batch` default to [`crate::model::Precision::Auto`]).
    pub precision: crate::model::Precision,
}

/// Where the STFT, features, masks and inverse STFT run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ComputePath {
    /// The tensor path when the models are on a CUDA device, else the CPU path.
    #[default]
    Auto,
    /// rayon on the CPU's cores, whatever the network's device.
    Cpu,
    /// LibTorch operations on the first model's device (also on the CPU, for tests).
    Tensor,
}

impl Default for SeparateOptions {
    fn default() -> Self {
        SeparateOptions {
            mask: MaskKind::Wiener,
            niter: 0,
            batch_frames: 256,
            block_frames: 1 << 16,
            path: ComputePath::Auto,
            precision: crate::model::Precision::F32,
        }
    }
}

/// One or more target estimators sharing an STFT set-up, ready to separate mixtures.
pub struct Separator {
    estimators: Vec<Box<dyn Estimator>>,
    /// Derived from `estimators` once, when the separator is built.
    facts: ModelFacts,
    options: SeparateOptions,
    stop: Option<Arc<AtomicBool>>,
    latency: Latency,
}

/// The in-memory result of [`Separator::separate`].
#[derive(Debug, Clone)]
pub struct Separation {
    /// One buffer per target, in the estimators' order, each shaped like the mixture.
    pub targets: Vec<(String, AudioBuffer)>,
    /// The mixture minus the sum of the targets.
    pub residual: AudioBuffer,
}

/// What a file separation did.
#[derive(Debug, Clone)]
pub struct FileReport {
    pub sample_rate: u32,
    pub nb_channels: usize,
    pub nb_frames: u64,
    /// Where the time went.
    pub stages: StageTimes,
    /// Each output as written (targets, then the residual): peaks and clipping.
    pub outputs: Vec<WriteReport>,
    /// The low-latency mode's wall time per hop (see [`HopTimes::wall`]); empty in the
    /// batched mode.
    pub hop_wall: Vec<std::time::Duration>,
    /// The low-latency mode's CPU time per hop (see [`HopTimes::cpu`]).
    pub hop_cpu: Vec<std::time::Duration>,
}

impl FileReport {
    pub fn duration_secs(&self) -> f64 {
        self.nb_frames as f64 / self.sample_rate as f64
    }
}

impl Separator {
    /// Requires at least one estimator, all with the same sample rate and STFT, distinct
    /// targets, and consistent shapes (`nb_bins_in`, `nb_bins` within the STFT's bins).
    pub fn new(estimators: Vec<Box<dyn Estimator>>, options: SeparateOptions) -> Result<Self> {
        let facts = ModelFacts::of(&estimators)?;
        if options.batch_frames == 0 || options.block_frames == 0 {
            return Err(Error::Invalid("batch and block sizes must be > 0".into()));
        }
        Ok(Separator {
            estimators,
            facts,
            options,
            stop: None,
            latency: Latency::Batch,
        })
    }

    /// Loads the model in each folder of `dirs` (config.json + model.safetensors) onto `device`
    /// and builds a separator of them (see [`Separator::new`] for what must agree). Errors name
    /// the folder.
    ///
    /// ```no_run
    /// use saex::separate::{SeparateOptions, Separator};
    /// # fn main() -> saex::Result<()> {
    /// let separator = Separator::from_model_dirs(
    ///     &["models/vocals", "models/bass"],
    ///     tch::Device::Cpu,
    ///     SeparateOptions::default(),
    /// )?;
    /// assert_eq!(separator.targets(), ["vocals", "bass"]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_model_dirs(
        dirs: &[impl AsRef<Path>],
        device: tch::Device,
        options: SeparateOptions,
    ) -> Result<Self> {
        let mut estimators: Vec<Box<dyn Estimator>> = Vec::with_capacity(dirs.len());
        for dir in dirs {
            let dir = dir.as_ref();
            let model = crate::model::Model::load(dir, device).map_err(|e| {
                Error::Invalid(format!("cannot load the model in {}: {e}", dir.display()))
            })?;
            estimators.push(Box::new(
                ModelEstimator::new(model)?.with_precision(options.precision)?,
            ));
        }
        Separator::new(estimators, options)
    }

    /// Makes every later separation check `stop` between blocks: once it is set (e.g. by a
    /// Ctrl-C handler), the separation ends with [`Error::Interrupted`] and, for
    /// [`Separator::separate_file`], leaves nothing at the output paths.
    pub fn with_stop(mut self, stop: Arc<AtomicBool>) -> Self {
        self.stop = Some(stop);
        self
    }

    /// Runs every later separation in `latency`'s mode (see [`Latency`]). The low-latency
    /// mode refuses the multichannel Wiener filter (`niter > 0`): it estimates covariances over
    /// a batch of frames, future ones included.
    pub fn with_latency(mut self, latency: Latency) -> Result<Self> {
        if latency == Latency::Low && self.options.niter > 0 {
            return Err(Error::Invalid(format!(
                "the low-latency mode cannot run the multichannel Wiener filter (niter {}): it \
                 needs a batch of future frames; use niter 0",
                self.options.niter
            )));
        }
        self.latency = latency;
        Ok(self)
    }

    /// The mode separations run in.
    pub fn latency(&self) -> Latency {
        self.latency
    }

    /// The low-latency mode's algorithmic latency in samples at the models' rate (see
    /// [`algorithmic_latency`]): from the STFT and the largest context reach of the models.
    pub fn algorithmic_latency(&self) -> usize {
        algorithmic_latency(self.facts.stft, self.facts.reach)
    }

    /// A bound on how long a sample of a stream at `rate` Hz waits in a [`HopProcessor`], in
    /// frames at `rate`: the algorithmic latency plus, when `rate` is not the models' rate, the
    /// resamplers' longest waits on the way in and out (see [`StreamResampler::latency`]; the
    /// two seldom fall on one sample, so the true wait is 75 to 95 % of the bound). Returns
    /// `(total, resampling)`.
    ///
    /// [`StreamResampler::latency`]: crate::audio::StreamResampler::latency
    pub fn stream_latency(&self, rate: u32) -> Result<(usize, usize)> {
        let model_rate = self.sample_rate();
        let at_rate = |n: usize| (n as u64 * rate as u64).div_ceil(model_rate as u64) as usize;
        let into = crate::audio::StreamResampler::new(rate, model_rate, 1)?.latency();
        let back = crate::audio::StreamResampler::new(model_rate, rate, 1)?.latency();
        let resampling = into + at_rate(back);
        Ok((at_rate(self.algorithmic_latency()) + resampling, resampling))
    }

    /// A low-latency processor for a stream at `rate` Hz of `nb_channels` channels, to drive
    /// block by block (e.g. from a live audio loop): see [`HopProcessor`]. Runs in the
    /// low-latency mode whatever [`Separator::latency`] says (the multichannel Wiener filter
    /// is not applied).
    pub fn hop_processor(&self, rate: u32, nb_channels: usize) -> Result<HopProcessor<'_>> {
        crate::audio::check_layout(rate, nb_channels)?;
        HopProcessor::new(
            &self.estimators,
            &self.facts,
            self.options.mask,
            rate,
            nb_channels,
        )
    }

    /// The models' STFT hop in samples (at [`Separator::sample_rate`]).
    pub fn hop(&self) -> usize {
        self.facts.stft.hop()
    }

    /// The models' sample rate in Hz.
    pub fn sample_rate(&self) -> u32 {
        self.facts.sample_rate
    }

    /// The targets, in order.
    pub fn targets(&self) -> Vec<&str> {
        self.estimators
            .iter()
            .map(|e| e.spec().target.as_str())
            .collect()
    }

    /// The settings of one run; `hop_times` records each hop's compute time in the
    /// low-latency mode.
    fn engine<'a>(&'a self, hop_times: Option<&'a HopTimes>) -> Engine<'a> {
        let device = self.estimators[0].device();
        let tensor_device = match self.options.path {
            ComputePath::Auto => tensor_front::tensor_path_by_default(device).then_some(device),
            ComputePath::Cpu => None,
            ComputePath::Tensor => Some(device),
        };
        // On a GPU, batches 16 times larger (4096 frames by default, as measured there):
        // fewer, fuller kernels and transfers.
        let batch_frames = match tensor_device {
            Some(d) if d.is_cuda() => self.options.batch_frames * 16,
            _ => self.options.batch_frames,
        };
        Engine {
            tensor_device,
            batch_frames,
            estimators: &self.estimators,
            facts: &self.facts,
            mask: self.options.mask,
            niter: self.options.niter,
            block_frames: self.options.block_frames,
            hop_times,
            stop: self.stop.as_deref(),
        }
    }

    /// Runs `source` through the path that [`Separator::latency`] chooses: the batched stages
    /// or one hop at a time. `sinks` has one sink per target, in order. Returns the frames
    /// processed and where the time went.
    fn run(
        &self,
        source: &mut dyn BlockSource,
        sinks: &mut [&mut dyn BlockSink],
        residual: Option<&mut dyn BlockSink>,
        progress: &mut dyn FnMut(u64),
        hop_times: Option<&HopTimes>,
    ) -> Result<(u64, StageTimes)> {
        let engine = self.engine(hop_times);
        match self.latency {
            Latency::Batch => batched::run(&engine, source, sinks, residual, progress),
            Latency::Low => hop::run(&engine, source, sinks, residual, progress),
        }
    }

    /// Separates a mixture held in memory: `(nb_channels, nb_frames)` -> one buffer of the same
    /// shape and rate per target, plus the residual.
    pub fn separate(&self, mix: &AudioBuffer) -> Result<Separation> {
        let mut source = MemorySource {
            audio: mix,
            position: 0,
        };
        let mut outputs: Vec<MemorySink> = self
            .estimators
            .iter()
            .map(|_| MemorySink::new(mix.nb_channels()))
            .collect();
        let mut residual = MemorySink::new(mix.nb_channels());
        {
            let mut sinks: Vec<&mut dyn BlockSink> = outputs
                .iter_mut()
                .map(|s| s as &mut dyn BlockSink)
                .collect();
            self.run(
                &mut source,
                &mut sinks,
                Some(&mut residual),
                &mut |_| {},
                None,
            )?;
        }
        let targets = self
            .targets()
            .into_iter()
            .map(String::from)
            .zip(outputs)
            .map(|(name, sink)| Ok((name, AudioBuffer::new(mix.sample_rate, sink.channels)?)))
            .collect::<Result<_>>()?;
        Ok(Separation {
            targets,
            residual: AudioBuffer::new(mix.sample_rate, residual.channels)?,
        })
    }

    /// Separates the audio file `input` into `outputs`, streaming. Each output appears complete
    /// or not at all; no output may be the input or another output. `progress` gets the input
    /// frames processed so far.
    pub fn separate_file(
        &self,
        input: &Path,
        outputs: &OutputFiles,
        progress: &mut dyn FnMut(u64),
    ) -> Result<FileReport> {
        self.separate_reader(AudioReader::open(input)?, outputs, progress)
    }

    /// [`Separator::separate_file`] from a reader already opened (e.g. to size a progress bar
    /// from its header without opening the file twice).
    pub fn separate_reader(
        &self,
        mut reader: AudioReader,
        outputs: &OutputFiles,
        progress: &mut dyn FnMut(u64),
    ) -> Result<FileReport> {
        let input = reader.path().to_path_buf();
        let input = input.as_path();
        let residual_only = outputs.targets.is_empty() && outputs.residual.is_some();
        if outputs.targets.len() != self.estimators.len() && !residual_only {
            return Err(Error::mismatch(
                "output paths",
                self.estimators.len(),
                outputs.targets.len(),
            ));
        }
        outputs.check(Some(input))?;
        let info = reader.info();
        let mut writers = outputs
            .targets
            .iter()
            .map(|p| AudioWriter::create(p, info.sample_rate, info.nb_channels, outputs.format))
            .collect::<Result<Vec<_>>>()?;
        let mut residual = outputs
            .residual
            .as_ref()
            .map(|p| AudioWriter::create(p, info.sample_rate, info.nb_channels, outputs.format))
            .transpose()?;
        let mut dropped: Vec<NullSink> = if residual_only {
            self.estimators.iter().map(|_| NullSink).collect()
        } else {
            Vec::new()
        };
        let hops = HopTimes::default();
        let (nb_frames, mut stages) = {
            let mut sinks: Vec<&mut dyn BlockSink> = writers
                .iter_mut()
                .map(|w| w as &mut dyn BlockSink)
                .chain(dropped.iter_mut().map(|w| w as &mut dyn BlockSink))
                .collect();
            self.run(
                &mut reader,
                &mut sinks,
                residual.as_mut().map(|w| w as &mut dyn BlockSink),
                progress,
                (self.latency == Latency::Low).then_some(&hops),
            )
            .map_err(|e| match e {
                Error::Invalid(reason) => Error::file(input, reason),
                other => other,
            })?
        };
        let written = stages::timed(&mut stages.encode, || {
            let mut written = Vec::with_capacity(writers.len() + 1);
            for writer in writers {
                written.push(writer.finish()?);
            }
            if let Some(residual) = residual {
                written.push(residual.finish()?);
            }
            Ok::<_, Error>(written)
        })?;
        Ok(FileReport {
            sample_rate: info.sample_rate,
            nb_channels: info.nb_channels,
            nb_frames,
            stages,
            outputs: written,
            hop_wall: hops.wall(),
            hop_cpu: hops.cpu(),
        })
    }
}

impl BlockSource for AudioReader {
    fn sample_rate(&self) -> u32 {
        self.info().sample_rate
    }

    fn nb_channels(&self) -> usize {
        self.info().nb_channels
    }

    fn read(&mut self, max_frames: usize) -> Result<Vec<Vec<f32>>> {
        AudioReader::read(self, max_frames)
    }
}

impl BlockSink for AudioWriter {
    fn write(&mut self, block: &[Vec<f32>]) -> Result<()> {
        AudioWriter::write(self, block)
    }

    fn flush(&mut self) -> Result<()> {
        AudioWriter::flush(self)
    }
}

struct MemorySource<'a> {
    audio: &'a AudioBuffer,
    position: usize,
}

impl BlockSource for MemorySource<'_> {
    fn sample_rate(&self) -> u32 {
        self.audio.sample_rate
    }

    fn nb_channels(&self) -> usize {
        self.audio.nb_channels()
    }

    fn read(&mut self, max_frames: usize) -> Result<Vec<Vec<f32>>> {
        let end = (self.position + max_frames).min(self.audio.nb_frames());
        let block = self
            .audio
            .channels
            .iter()
            .map(|c| c[self.position..end].to_vec())
            .collect();
        self.position = end;
        Ok(block)
    }
}

/// Takes blocks and keeps nothing (targets not written).
struct NullSink;

impl BlockSink for NullSink {
    fn write(&mut self, _block: &[Vec<f32>]) -> Result<()> {
        Ok(())
    }
}

struct MemorySink {
    channels: Vec<Vec<f32>>,
}

impl MemorySink {
    fn new(nb_channels: usize) -> Self {
        MemorySink {
            channels: vec![Vec::new(); nb_channels],
        }
    }
}

impl BlockSink for MemorySink {
    fn write(&mut self, block: &[Vec<f32>]) -> Result<()> {
        for (all, part) in self.channels.iter_mut().zip(block) {
            all.extend_from_slice(part);
        }
        Ok(())
    }
}
