//! `saex._saex`: the extension module behind the Python package `saex` (python/saex/). It
//! converts arrays and errors and forwards to the `saex` library, which holds every behaviour;
//! `saex/__init__.py` adds torch tensors and the docstrings users read.
//!
//! Arrays are `(nb_channels, nb_samples)`. The GIL is released while the library works, and a
//! call runs on a helper thread so that the calling thread can notice Ctrl-C
//! ([`interruptible`]).

use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray2, PyArrayMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::create_exception;
use pyo3::exceptions::{
    PyFileNotFoundError, PyIsADirectoryError, PyKeyboardInterrupt, PyOSError, PyPermissionError,
    PyRuntimeError, PyTypeError, PyUserWarning, PyValueError,
};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use saex::batch::{BatchJob, FileOutcome, PlannedFile, Shard};
use saex::eval::{museval_json, score_sources, BssConfig};
use saex::model::Precision;
use saex::outputs::{OutputFiles, Template, DEFAULT_TEMPLATE};
use saex::separate::{Latency, MaskKind, SeparatorSettings};
use saex::{AudioBuffer, ClipMode, Container, OutputFormat, SampleFormat};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

create_exception!(
    saex,
    SaexError,
    PyValueError,
    "A file saex cannot use (not audio, truncated, a corrupt model, an output format that \
     cannot hold the audio, ...); the message names it. A ValueError."
);

/// saex's error as the Python exception that fits: a missing file is FileNotFoundError, a
/// refused one PermissionError (other I/O errors OSError), a bad parameter or shape ValueError,
/// an unusable file SaexError, LibTorch's errors RuntimeError, Ctrl-C KeyboardInterrupt. The
/// message is the library's, which names the file.
fn py_err(e: saex::Error) -> PyErr {
    use saex::Error as E;
    let message = e.to_string();
    match &e {
        E::Io { cause, .. } => match cause.0.kind() {
            std::io::ErrorKind::NotFound => PyFileNotFoundError::new_err(message),
            std::io::ErrorKind::PermissionDenied => PyPermissionError::new_err(message),
            std::io::ErrorKind::IsADirectory => PyIsADirectoryError::new_err(message),
            _ => PyOSError::new_err(message),
        },
        E::File { .. } => SaexError::new_err(message),
        E::Mismatch { .. } | E::Invalid(_) => PyValueError::new_err(message),
        E::Torch(_) => PyRuntimeError::new_err(message),
        E::Interrupted => PyKeyboardInterrupt::new_err(message),
    }
}

/// Runs `work` on a helper thread while this thread waits without the GIL, waking every 50 ms
/// to let Python check for signals: on Ctrl-C (KeyboardInterrupt) `interrupt` is called (it
/// asks the library to stop), the helper is waited for, and the KeyboardInterrupt is raised.
fn interruptible<T: Send>(
    py: Python<'_>,
    interrupt: impl Fn(),
    work: impl FnOnce() -> T + Send,
) -> PyResult<T> {
    let done = (Mutex::new(false), Condvar::new());
    std::thread::scope(|scope| {
        let helper = scope.spawn(|| {
            /// Says "done" however `work` ends, panics included.
            struct Done<'a>(&'a (Mutex<bool>, Condvar));
            impl Drop for Done<'_> {
                fn drop(&mut self) {
                    *self.0 .0.lock().unwrap_or_else(|p| p.into_inner()) = true;
                    self.0 .1.notify_all();
                }
            }
            let _done = Done(&done);
            work()
        });
        let mut interrupted = None;
        loop {
            let finished = py.detach(|| {
                let (lock, wake) = &done;
                let guard = lock.lock().unwrap_or_else(|p| p.into_inner());
                let (guard, _) = wake
                    .wait_timeout_while(guard, Duration::from_millis(50), |done| !*done)
                    .unwrap_or_else(|p| p.into_inner());
                *guard
            });
            if interrupted.is_none() {
                if let Err(e) = py.check_signals() {
                    interrupt();
                    interrupted = Some(e);
                }
            }
            if finished {
                break;
            }
        }
        let result = py.detach(|| helper.join());
        if let Some(e) = interrupted {
            return Err(e);
        }
        result.map_err(|panic| {
            let what = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("unknown");
            PyRuntimeError::new_err(format!("saex panicked: {what}"))
        })
    })
}

/// A `(nb_channels, nb_samples)` float32 or float64 NumPy array as an [`AudioBuffer`] at
/// `rate` (copied into f32 planar channels, whatever the array's strides).
fn audio_buffer(audio: &Bound<'_, PyAny>, rate: u32, what: &str) -> PyResult<AudioBuffer> {
    let channels = channels_of::<f32>(audio, what)?;
    AudioBuffer::new(rate, channels).map_err(py_err)
}

/// The rows of a 2-D float32 or float64 array as `T` (f32 or f64).
fn channels_of<T: FromF64>(audio: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<Vec<T>>> {
    let Ok(array) = audio.cast::<PyUntypedArray>() else {
        return Err(PyTypeError::new_err(format!(
            "{what}: expected a NumPy array or torch tensor of shape (channels, samples), got {}",
            audio.get_type().name()?
        )));
    };
    if array.ndim() != 2 {
        return Err(PyValueError::new_err(format!(
            "{what}: expected 2 dimensions (channels, samples), got shape {:?}{}",
            array.shape(),
            if array.ndim() == 1 {
                " (for mono audio use audio[None, :])"
            } else {
                ""
            }
        )));
    }
    if let Ok(a) = array.cast::<PyArray2<f32>>() {
        let a = a.readonly();
        return Ok(rows(a.as_array().rows(), |v: f32| T::from_f64(v as f64)));
    }
    if let Ok(a) = array.cast::<PyArray2<f64>>() {
        let a = a.readonly();
        return Ok(rows(a.as_array().rows(), T::from_f64));
    }
    Err(PyTypeError::new_err(format!(
        "{what}: expected float32 or float64 samples, got dtype {}",
        array.dtype().str()?
    )))
}

fn rows<'a, S: Copy + 'a, T>(
    rows: impl IntoIterator<Item = numpy::ndarray::ArrayView1<'a, S>>,
    convert: impl Fn(S) -> T,
) -> Vec<Vec<T>> {
    rows.into_iter()
        .map(|row| row.iter().map(|&v| convert(v)).collect())
        .collect()
}

/// f32 (audio) or f64 (BSS Eval) from an array's f64 value; f32 from f32 is exact.
trait FromF64: Copy + Send {
    fn from_f64(v: f64) -> Self;
}

impl FromF64 for f32 {
    fn from_f64(v: f64) -> Self {
        v as f32
    }
}

impl FromF64 for f64 {
    fn from_f64(v: f64) -> Self {
        v
    }
}

/// A buffer as a `(nb_channels, nb_samples)` float32 NumPy array (one copy into contiguous
/// memory, which the array then owns).
fn to_numpy<'py>(py: Python<'py>, audio: AudioBuffer) -> PyResult<Bound<'py, PyArray2<f32>>> {
    let (nb_channels, nb_frames) = (audio.nb_channels(), audio.nb_frames());
    let mut flat = Vec::with_capacity(nb_channels * nb_frames);
    for channel in audio.channels {
        flat.extend_from_slice(&channel);
    }
    let array = Array2::from_shape_vec((nb_channels, nb_frames), flat)
        .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    Ok(array.into_pyarray(py))
}

/// Issues a Python UserWarning.
fn warn(py: Python<'_>, message: &str) -> PyResult<()> {
    let message = std::ffi::CString::new(message.replace('\0', " "))
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    PyErr::warn(py, &py.get_type::<PyUserWarning>(), &message, 1)
}

/// The output format from the Python keywords (the names `saex extract` takes).
fn output_format(
    container: Option<&str>,
    sample_format: &str,
    clip: &str,
    bitrate: Option<u32>,
) -> PyResult<OutputFormat> {
    Ok(OutputFormat {
        container: container
            .map(Container::parse)
            .transpose()
            .map_err(py_err)?,
        sample: SampleFormat::parse(sample_format).map_err(py_err)?,
        clip: ClipMode::parse(clip).map_err(py_err)?,
        bitrate,
    })
}

/// The Python name of a latency mode ("normal" is the batched mode).
fn latency_name(latency: Latency) -> &'static str {
    match latency {
        Latency::Batch => "normal",
        Latency::Low => "low",
    }
}

/// A separator: one or more models loaded once, ready for many separations. Calls from several
/// threads take turns on one separator (make one per thread to run them at once).
#[pyclass(name = "Separator", module = "saex._saex", frozen)]
struct PySeparator {
    inner: Mutex<saex::Separator>,
    /// The library's stop flag (Ctrl-C), set only while this separator runs a call.
    stop: Arc<AtomicBool>,
    targets: Vec<String>,
    sample_rate: u32,
    latency: Latency,
    algorithmic_latency: usize,
    device: String,
    /// LibTorch threads for the network of each call (LibTorch's count is per thread; set on
    /// the helper thread that runs the call).
    network_threads: usize,
}

impl PySeparator {
    /// Runs `work` with the separator, interruptibly: Ctrl-C stops this call's separation (a
    /// call still waiting for the separator is not started).
    fn run<T: Send>(
        &self,
        py: Python<'_>,
        work: impl FnOnce(&saex::Separator) -> saex::Result<T> + Send,
    ) -> PyResult<T> {
        let cancelled = AtomicBool::new(false);
        let running = AtomicBool::new(false);
        let result = interruptible(
            py,
            || {
                cancelled.store(true, Ordering::SeqCst);
                if running.load(Ordering::SeqCst) {
                    self.stop.store(true, Ordering::SeqCst);
                }
            },
            || {
                tch::set_num_threads(self.network_threads as i32);
                let separator = self.inner.lock().unwrap_or_else(|p| p.into_inner());
                self.stop.store(false, Ordering::SeqCst);
                running.store(true, Ordering::SeqCst);
                if cancelled.load(Ordering::SeqCst) {
                    return Err(saex::Error::Interrupted);
                }
                let result = work(&separator);
                running.store(false, Ordering::SeqCst);
                result
            },
        )?;
        result.map_err(py_err)
    }
}

#[pymethods]
impl PySeparator {
    #[new]
    #[pyo3(signature = (models, device = "auto", latency = "normal", niter = 0, mask = "auto", precision = "auto", threads = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        models: Vec<PathBuf>,
        device: &str,
        latency: &str,
        niter: usize,
        mask: &str,
        precision: &str,
        threads: Option<usize>,
    ) -> PyResult<Self> {
        let latency = match latency.trim().to_ascii_lowercase().as_str() {
            "normal" => Latency::Batch,
            other => Latency::parse(other).map_err(|_| {
                PyValueError::new_err(format!(
                    "latency {latency:?}: expected \"normal\" (batches of frames, fastest) or \
                     \"low\" (one hop at a time)"
                ))
            })?,
        };
        let settings = SeparatorSettings {
            models,
            device: saex::parse_device(device).map_err(py_err)?,
            mask: MaskKind::parse_or_auto(mask).map_err(py_err)?,
            niter,
            precision: Precision::parse(precision).map_err(py_err)?,
            ..SeparatorSettings::default()
        };
        // As `saex extract` splits the cores for one file at a time.
        let plan = saex::ThreadPlan::new(
            threads.unwrap_or_else(saex::ThreadPlan::available_cores),
            1,
            None,
            settings.device.is_cuda(),
        )
        .map_err(py_err)?;
        if let Some(warning) = settings.precision.slowness_warning(settings.device) {
            warn(py, &warning)?;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let separator = py
            .detach(|| settings.build())
            .and_then(|s| s.with_stop(Arc::clone(&stop)).with_latency(latency))
            .map_err(py_err)?;
        Ok(PySeparator {
            targets: separator.targets().into_iter().map(String::from).collect(),
            sample_rate: separator.sample_rate(),
            algorithmic_latency: separator.algorithmic_latency(),
            device: saex::device_name(settings.device),
            // As `saex extract --latency low`: one hop's products are too small to share.
            network_threads: if latency == Latency::Low {
                1
            } else {
                plan.network
            },
            latency,
            inner: Mutex::new(separator),
            stop,
        })
    }

    /// Separates `audio` `(nb_channels, nb_samples)` at `rate` Hz: {target: float32 array of
    /// the same shape}, plus "residual" (the mix minus the targets) when asked.
    #[pyo3(signature = (audio, rate, residual = false))]
    fn separate<'py>(
        &self,
        py: Python<'py>,
        audio: &Bound<'py, PyAny>,
        rate: u32,
        residual: bool,
    ) -> PyResult<Bound<'py, PyDict>> {
        let mix = audio_buffer(audio, rate, "audio")?;
        let separation = self.run(py, |separator| separator.separate(&mix))?;
        drop(mix);
        let out = PyDict::new(py);
        for (name, buffer) in separation.targets {
            out.set_item(name, to_numpy(py, buffer)?)?;
        }
        if residual {
            out.set_item("residual", to_numpy(py, separation.residual)?)?;
        }
        Ok(out)
    }

    /// Separates the file `path` into `out_dir/<target>.<format>` (and `residual.<format>`),
    /// as `saex extract --mix PATH --out-dir OUT_DIR` does; returns {name: path written}.
    #[pyo3(signature = (path, out_dir, format = "wav", sample_format = "16", residual = true, bitrate = None, clip = "clamp"))]
    #[allow(clippy::too_many_arguments)]
    fn separate_file<'py>(
        &self,
        py: Python<'py>,
        path: PathBuf,
        out_dir: PathBuf,
        format: &str,
        sample_format: &str,
        residual: bool,
        bitrate: Option<u32>,
        clip: &str,
    ) -> PyResult<Bound<'py, PyDict>> {
        let container = Container::parse(format).map_err(py_err)?;
        let format = output_format(Some(format), sample_format, clip, bitrate)?;
        let template = Template::new(&format!("{{folder}}/{{target}}.{}", container.extension()))
            .map_err(py_err)?;
        let root = path.parent().unwrap_or(Path::new(""));
        let fill = |target: &str| template.fill(&out_dir, root, &path, target);
        let outputs = OutputFiles {
            targets: self
                .targets
                .iter()
                .map(|t| fill(t))
                .collect::<saex::Result<_>>()
                .map_err(py_err)?,
            residual: residual
                .then(|| fill("residual"))
                .transpose()
                .map_err(py_err)?,
            format,
        };
        std::fs::create_dir_all(&out_dir).map_err(|e| py_err(saex::Error::io(&out_dir, e)))?;
        let report = self.run(py, |separator| {
            separator.separate_file(&path, &outputs, &mut |_| {})
        })?;
        for written in &report.outputs {
            if let Some(warning) = written.clipping_warning() {
                warn(py, &warning)?;
            }
        }
        let out = PyDict::new(py);
        for (name, file) in self.targets.iter().zip(&outputs.targets) {
            out.set_item(name, file)?;
        }
        if let Some(file) = &outputs.residual {
            out.set_item("residual", file)?;
        }
        Ok(out)
    }

    /// Runs the library's batch (`saex batch`) over one shard of the audio files under
    /// `in_dir`: {"processed", "skipped", "failed", "seconds_audio", "seconds", "files":
    /// [{"input", "outputs", "outcome", "error", "seconds_audio", "seconds", "warnings"}]}.
    /// Ctrl-C abandons the file in progress (nothing written for it) and raises
    /// KeyboardInterrupt.
    #[pyo3(signature = (in_dir, out_dir, shard = (0, 1), filename = DEFAULT_TEMPLATE, residual = None, include = Vec::new(), overwrite = false, sample_format = "16", bitrate = None, clip = "clamp"))]
    #[allow(clippy::too_many_arguments)]
    fn batch<'py>(
        &self,
        py: Python<'py>,
        in_dir: PathBuf,
        out_dir: PathBuf,
        shard: (usize, usize),
        filename: &str,
        residual: Option<String>,
        include: Vec<String>,
        overwrite: bool,
        sample_format: &str,
        bitrate: Option<u32>,
        clip: &str,
    ) -> PyResult<Bound<'py, PyDict>> {
        let job = BatchJob {
            input_dir: in_dir,
            output_dir: out_dir,
            template: filename.to_string(),
            residual,
            shard: Shard::new(shard.0, shard.1).map_err(py_err)?,
            overwrite,
            format: output_format(None, sample_format, clip, bitrate)?,
            include,
        };
        let targets: Vec<&str> = self.targets.iter().map(String::as_str).collect();
        let plan = py.detach(|| job.plan(&targets)).map_err(py_err)?;
        let (summary, files) = self.run(py, |separator| {
            let mut files = Vec::with_capacity(plan.len());
            let summary = job.run(
                separator,
                &plan,
                &mut |file, outcome| files.push(FileReport::new(file, outcome)),
                &mut |_| {},
            );
            Ok((summary, files))
        })?;
        if summary.interrupted {
            return Err(py_err(saex::Error::Interrupted));
        }
        let out = PyDict::new(py);
        out.set_item("processed", summary.processed)?;
        out.set_item("skipped", summary.skipped)?;
        out.set_item("failed", summary.failed)?;
        out.set_item("seconds_audio", summary.seconds_audio)?;
        out.set_item("seconds", summary.seconds)?;
        let mut list = Vec::with_capacity(files.len());
        for report in files {
            let file = PyDict::new(py);
            file.set_item("input", report.input)?;
            file.set_item("outputs", report.outputs)?;
            file.set_item("outcome", report.outcome)?;
            file.set_item("error", report.error)?;
            file.set_item("seconds_audio", report.seconds_audio)?;
            file.set_item("seconds", report.seconds)?;
            file.set_item("warnings", report.warnings)?;
            list.push(file);
        }
        out.set_item("files", list)?;
        Ok(out)
    }

    /// The targets, in the models' order.
    #[getter]
    fn targets(&self) -> Vec<String> {
        self.targets.clone()
    }

    /// The models' sample rate in Hz (inputs at other rates are resampled to it and back).
    #[getter]
    fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// "normal" or "low".
    #[getter]
    fn latency(&self) -> &'static str {
        latency_name(self.latency)
    }

    /// The low-latency mode's algorithmic latency in samples at `sample_rate`.
    #[getter]
    fn algorithmic_latency(&self) -> usize {
        self.algorithmic_latency
    }

    /// Where the networks run ("cpu", "cuda:0", ...).
    #[getter]
    fn device(&self) -> &str {
        &self.device
    }
}

/// What [`PySeparator::batch`] reports of one file.
struct FileReport {
    input: PathBuf,
    outputs: Vec<PathBuf>,
    /// "done", "skipped" or "failed".
    outcome: &'static str,
    error: Option<String>,
    seconds_audio: f64,
    seconds: f64,
    warnings: Vec<String>,
}

impl FileReport {
    fn new(file: &PlannedFile, outcome: &FileOutcome) -> Self {
        let (outcome, error, seconds_audio, seconds, warnings) = match outcome {
            FileOutcome::Done {
                seconds_audio,
                seconds,
                warnings,
            } => ("done", None, *seconds_audio, *seconds, warnings.clone()),
            FileOutcome::Skipped => ("skipped", None, 0.0, 0.0, Vec::new()),
            FileOutcome::Failed(e) => ("failed", Some(e.to_string()), 0.0, 0.0, Vec::new()),
        };
        FileReport {
            input: file.input.clone(),
            outputs: file.outputs.paths().cloned().collect(),
            outcome,
            error,
            seconds_audio,
            seconds,
            warnings,
        }
    }
}

/// Reads an audio file: (float32 array `(nb_channels, nb_samples)`, sample rate).
#[pyfunction]
fn read_audio<'py>(py: Python<'py>, path: PathBuf) -> PyResult<(Bound<'py, PyArray2<f32>>, u32)> {
    let audio = interruptible(py, || {}, || saex::read_audio(&path))?.map_err(py_err)?;
    let rate = audio.sample_rate;
    Ok((to_numpy(py, audio)?, rate))
}

/// Writes `audio` `(nb_channels, nb_samples)` at `rate` Hz to `path`, atomically; the format
/// follows the extension unless `format` names it.
#[pyfunction]
#[pyo3(signature = (path, audio, rate, sample_format = "16", format = None, bitrate = None, clip = "clamp"))]
#[allow(clippy::too_many_arguments)]
fn write_audio(
    py: Python<'_>,
    path: PathBuf,
    audio: &Bound<'_, PyAny>,
    rate: u32,
    sample_format: &str,
    format: Option<&str>,
    bitrate: Option<u32>,
    clip: &str,
) -> PyResult<()> {
    let format = output_format(format, sample_format, clip, bitrate)?;
    let audio = audio_buffer(audio, rate, &path.display().to_string())?;
    let report =
        interruptible(py, || {}, || saex::write_wav(&path, &audio, format))?.map_err(py_err)?;
    if let Some(warning) = report.clipping_warning() {
        warn(py, &warning)?;
    }
    Ok(())
}

/// BSS Eval v4 as museval computes it: {name: reference}, {name: estimate}, each
/// `(nb_channels, nb_samples)`, scored jointly; returns museval's JSON (a string) for the
/// sources in the references' order.
#[pyfunction]
#[pyo3(signature = (references, estimates, rate, window = None, hop = None))]
fn evaluate_json(
    py: Python<'_>,
    references: &Bound<'_, PyDict>,
    estimates: &Bound<'_, PyDict>,
    rate: u32,
    window: Option<usize>,
    hop: Option<usize>,
) -> PyResult<String> {
    let mut names = Vec::new();
    let mut refs = Vec::new();
    let mut ests = Vec::new();
    for (name, reference) in references.iter() {
        let name: String = name
            .cast::<PyString>()
            .map_err(|_| PyTypeError::new_err("references: the keys must be source names (str)"))?
            .to_string();
        let Some(estimate) = estimates.get_item(&name)? else {
            return Err(PyValueError::new_err(format!(
                "estimates: no estimate for the source {name:?} (references and estimates must \
                 name the same sources)"
            )));
        };
        refs.push(channels_of::<f64>(
            &reference,
            &format!("references[{name:?}]"),
        )?);
        ests.push(channels_of::<f64>(
            &estimate,
            &format!("estimates[{name:?}]"),
        )?);
        names.push(name);
    }
    if let Some(extra) = estimates
        .keys()
        .iter()
        .map(|k| k.to_string())
        .find(|k| !names.contains(k))
    {
        return Err(PyValueError::new_err(format!(
            "estimates: the source {extra:?} has no reference"
        )));
    }
    let museval = BssConfig::museval(rate);
    let config = BssConfig {
        window: window.unwrap_or(museval.window),
        hop: hop.unwrap_or(museval.hop),
        ..museval
    };
    let scores = interruptible(
        py,
        || {},
        || score_sources(&names, &refs, &ests, rate, config),
    )?
    .map_err(py_err)?;
    Ok(museval_json(&scores))
}

/// A Python value as JSON (through Python's json module), for serde.
fn to_json(value: &Bound<'_, PyAny>, key: &str) -> PyResult<serde_json::Value> {
    let text: String = value
        .py()
        .import("json")?
        .call_method1("dumps", (value,))
        .map_err(|e| PyTypeError::new_err(format!("train: {key}: not a JSON value: {e}")))?
        .extract()?;
    serde_json::from_str(&text).map_err(|e| PyValueError::new_err(format!("train: {key}: {e}")))
}

/// Trains a model with the library's trainer (`saex train`): the keyword settings go to the
/// training settings (`TrainSettings`) or the model's shape (`ModelConfig`) by name. Each
/// history row goes to `progress` as a dict; Ctrl-C (or an exception from `progress`) stops
/// after the last finished epoch, whose checkpoint stays for `resume=True`.
#[pyfunction]
#[pyo3(signature = (data, target, out, progress = None, device = "cpu", resume = false, force = false, quiet = true, settings = None))]
#[allow(clippy::too_many_arguments)]
fn train<'py>(
    py: Python<'py>,
    data: PathBuf,
    target: &str,
    out: PathBuf,
    progress: Option<Bound<'py, PyAny>>,
    device: &str,
    resume: bool,
    force: bool,
    quiet: bool,
    settings: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyDict>> {
    let mut options = saex::TrainOptions::new(data, out, target);
    options.device = saex::parse_device(device).map_err(py_err)?;
    options.resume = resume;
    options.force = force;
    options.quiet = quiet;
    let json_err = |e: serde_json::Error| PyRuntimeError::new_err(e.to_string());
    let mut train_settings = serde_json::to_value(&options.settings).map_err(json_err)?;
    let mut model = serde_json::to_value(&options.model).map_err(json_err)?;
    // What config.json records about the run, not a setting.
    let not_settings = ["format_version", "target", "training", "command", "scores"];
    if let Some(settings) = settings {
        for (key, value) in settings.iter() {
            let key: String = key.extract()?;
            let value = to_json(&value, &key)?;
            let slot = match (
                train_settings.get_mut(&key),
                model
                    .get_mut(&key)
                    .filter(|_| !not_settings.contains(&key.as_str())),
            ) {
                (Some(slot), _) | (None, Some(slot)) => slot,
                (None, None) => {
                    let mut valid: Vec<&String> = train_settings
                        .as_object()
                        .into_iter()
                        .chain(model.as_object())
                        .flat_map(|o| o.keys())
                        .filter(|k| !not_settings.contains(&k.as_str()))
                        .collect();
                    valid.sort();
                    return Err(PyTypeError::new_err(format!(
                        "train: unknown setting {key:?}: expected one of {}",
                        valid
                            .iter()
                            .map(|k| k.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
            };
            *slot = value;
            // Checked one at a time, so that the error names the setting.
            let checked = serde_json::from_value::<saex::TrainSettings>(train_settings.clone())
                .and_then(|_| serde_json::from_value::<saex::ModelConfig>(model.clone()));
            if let Err(e) = checked {
                return Err(PyValueError::new_err(format!("train: {key}: {e}")));
            }
        }
    }
    let invalid = |e: serde_json::Error| PyValueError::new_err(format!("train: {e}"));
    options.settings = serde_json::from_value(train_settings).map_err(invalid)?;
    options.model = serde_json::from_value(model).map_err(invalid)?;
    // The callback runs on the training thread, with the GIL, as each row is recorded: an
    // exception from it stops the training at once and is raised here.
    let raised: Arc<Mutex<Option<PyErr>>> = Arc::default();
    if let Some(progress) = progress {
        let progress = progress.unbind();
        let raised = Arc::clone(&raised);
        options.progress = Some(saex::train::Progress::new(move |row| {
            Python::attach(|py| {
                let called = history_row(py, row).and_then(|row| progress.call1(py, (row,)));
                match called {
                    Ok(_) => Ok(()),
                    Err(e) => {
                        *raised.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                        Err(saex::Error::Interrupted)
                    }
                }
            })
        }));
    }
    let stop = AtomicBool::new(false);
    let result = interruptible(
        py,
        || stop.store(true, Ordering::SeqCst),
        || saex::train(&options, &stop),
    );
    // The callback (and the Python object it holds) goes before the result is looked at.
    drop(options);
    let report = match result? {
        Ok(report) => report,
        Err(e) => {
            let raised = raised.lock().unwrap_or_else(|p| p.into_inner()).take();
            return Err(raised.unwrap_or_else(|| py_err(e)));
        }
    };
    let out = PyDict::new(py);
    out.set_item("out", &report.out)?;
    out.set_item("best_valid_loss", report.best_valid_loss)?;
    out.set_item("best_at", &report.best_at)?;
    out.set_item("epochs", report.epochs)?;
    out.set_item("seconds", report.seconds)?;
    out.set_item("frames_per_second", report.frames_per_second)?;
    let history = report
        .history
        .iter()
        .map(|row| history_row(py, row))
        .collect::<PyResult<Vec<_>>>()?;
    out.set_item("history", history)?;
    Ok(out)
}

/// A history row as a dict (the columns of history.csv).
fn history_row<'py>(
    py: Python<'py>,
    row: &saex::train::HistoryRow,
) -> PyResult<Bound<'py, PyDict>> {
    let out = PyDict::new(py);
    out.set_item("stage", &row.stage)?;
    out.set_item("nb_layers", row.nb_layers)?;
    out.set_item("epoch", row.epoch)?;
    out.set_item("train_loss", row.train_loss)?;
    out.set_item("valid_loss", row.valid_loss)?;
    out.set_item("seconds", row.seconds)?;
    Ok(out)
}

#[pymodule]
fn _saex(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("SaexError", m.py().get_type::<SaexError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<PySeparator>()?;
    m.add_function(wrap_pyfunction!(read_audio, m)?)?;
    m.add_function(wrap_pyfunction!(write_audio, m)?)?;
    m.add_function(wrap_pyfunction!(evaluate_json, m)?)?;
    m.add_function(wrap_pyfunction!(train, m)?)?;
    Ok(())
}
