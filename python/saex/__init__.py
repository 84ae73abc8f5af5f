"""saex: extract one instrument (vocals, bass, drums, ...) from a music mix, from Python.

A binding of the saex library (Rust, LibTorch): the same models and the same numbers as the
``saex`` command line, with NumPy arrays or torch tensors in and out. Audio arrays are
``[channels, samples]``.

>>> import saex
>>> separator = saex.Separator(["vocals"])
>>> audio, rate = saex.read_audio("song.wav")
>>> stems = separator.separate(audio, rate)       # {"vocals": float32 array like audio}
>>> saex.write_audio("vocals.wav", stems["vocals"], rate)

The work runs without the GIL, so separators in several threads run at once.
"""

from __future__ import annotations

import json as _json
import os as _os
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple, Union

# torch first: it loads LibTorch's libraries (libtorch_cpu, libc10, ...), which the extension
# links and then finds already loaded, so there is one copy of LibTorch in the process.
import torch as _torch

import numpy as _np

from . import _saex
from ._saex import SaexError

__all__ = [
    "Separator",
    "SaexError",
    "read_audio",
    "write_audio",
    "evaluate",
    "train",
    "__version__",
]
__version__: str = _saex.__version__

PathLike = Union[str, "_os.PathLike[str]"]


def _host_array(audio: Any, what: str) -> Tuple[Any, Optional[_torch.device]]:
    """A NumPy view of `audio` and, for a torch tensor, the device it came from."""
    if isinstance(audio, _torch.Tensor):
        if audio.dtype not in (_torch.float32, _torch.float64):
            raise TypeError(f"{what}: expected a float32 or float64 tensor, got {audio.dtype}")
        return audio.detach().cpu().numpy(), audio.device
    return audio, None


class Separator:
    """One or more models loaded once, ready to separate many mixtures.

    Args:
        models: shipped model names ("vocals", "bass", "drums") or model folders
            (config.json + model.safetensors), one per target; a single name is taken as a
            list of one. All must share the sample rate and STFT.
        device: "auto" (the first CUDA GPU if there is one, else the CPU), "cpu", "cuda" or
            "cuda:N": where the networks run.
        latency: "normal" (frames go through the network in large batches: fastest) or
            "low" (one hop at a time, as ``saex extract --latency low``; same samples within
            float rounding).
        niter: iterations of the multichannel Wiener filter after the masks (0: the masks
            alone; not with latency "low").
        mask: "auto" (ratio for one model, wiener for several), "ratio" or "wiener".
        precision: the networks' matrix products: "auto" (bf16 on CPUs that multiply bf16
            natively, else f32; what ``saex extract`` runs), "f32", "bf16" or "int8".
        threads: the cores one separation may use (default: all this process may run on),
            split as ``saex extract --threads`` splits them: half for the network's LibTorch
            threads (set on saex's own worker thread), the rest for the signal processing.

    Raises:
        FileNotFoundError, SaexError: a model folder is missing or unusable (the message
            names it).
        ValueError: a bad setting (the message lists the valid ones).

    One separator runs one separation at a time: calls from several threads take turns. To
    separate in parallel, make one separator per thread (each loads its own models).
    """

    def __init__(
        self,
        models: Union[PathLike, Sequence[PathLike]] = ("vocals",),
        device: str = "auto",
        latency: str = "normal",
        niter: int = 0,
        mask: str = "auto",
        precision: str = "auto",
        threads: Optional[int] = None,
    ) -> None:
        if isinstance(models, (str, _os.PathLike)):
            models = [models]
        self._inner = _saex.Separator(
            [_os.fspath(m) for m in models], device, latency, niter, mask, precision, threads
        )

    def separate(self, audio: Any, rate: int, residual: bool = False) -> Dict[str, Any]:
        """Separates a mixture held in memory.

        Args:
            audio: the mixture, ``[channels, samples]`` (1 to 64 channels), a float32 or
                float64 NumPy array (any strides) or torch tensor, at `rate` Hz.
            rate: its sample rate in Hz; other rates than :attr:`sample_rate` are resampled
                to it and back, as the command line does.
            residual: also return the mix minus the targets under "residual".

        Returns:
            ``{target: estimate}`` in the models' order, each float32 of the input's shape
            (same channels, same length) at `rate`. Given a torch tensor, the estimates are
            torch tensors on the tensor's device. The numbers are those of ``saex extract``
            with the same settings (its ``--format float`` WAV output, bit for bit).

        A CUDA tensor is copied to the host, separated on this separator's device (the
        networks run on the GPU when ``device`` is "auto" or "cuda"; the rest of the
        pipeline takes host memory) and the results are copied back to the tensor's device.

        Raises:
            TypeError: not an array or tensor, or not float32/float64.
            ValueError: not 2-D, no channels or too many, a rate out of 1 kHz to 768 kHz.
            KeyboardInterrupt: Ctrl-C stopped the separation.
        """
        array, device = _host_array(audio, "audio")
        out = self._inner.separate(array, rate, residual)
        if device is None:
            return out
        return {name: _torch.from_numpy(a).to(device) for name, a in out.items()}

    def separate_file(
        self,
        path: PathLike,
        out_dir: PathLike,
        format: str = "wav",
        *,
        sample_format: str = "16",
        residual: bool = True,
        bitrate: Optional[int] = None,
        clip: str = "clamp",
    ) -> Dict[str, str]:
        """Separates an audio file into ``out_dir/<target>.<format>`` and
        ``out_dir/residual.<format>``, streaming (memory stays flat however long the file),
        as ``saex extract --mix PATH --out-dir OUT_DIR`` does.

        Args:
            path: the mixture: any format the command line reads (WAV, FLAC, MP3, Ogg
                Vorbis, Opus, AAC/M4A, ALAC, AIFF).
            out_dir: the output folder (made if missing).
            format: "wav", "flac", "raw", "mp3" or "ogg".
            sample_format: "16" (the default), "24" or "float" (WAV and raw only).
            residual: also write the mix minus the targets.
            bitrate: kbit/s of MP3 and Ogg Vorbis outputs.
            clip: "clamp", "rescale" or "none" (see ``saex extract --help``).

        Returns:
            ``{name: path written}``. Each output appears complete or not at all; clipping
            is reported with a UserWarning.

        Raises:
            FileNotFoundError: `path` does not exist.
            SaexError: `path` is not audio saex can read (the message names it).
            ValueError: a bad format or setting.
            KeyboardInterrupt: Ctrl-C stopped it; nothing was written.
        """
        return self._inner.separate_file(
            _os.fspath(path),
            _os.fspath(out_dir),
            format,
            sample_format,
            residual,
            bitrate,
            clip,
        )

    def batch(
        self,
        in_dir: PathLike,
        out_dir: PathLike,
        *,
        shard: Tuple[int, int] = (0, 1),
        filename: str = "{track}/{target}.wav",
        residual: Optional[str] = None,
        include: Sequence[str] = (),
        overwrite: bool = False,
        sample_format: str = "16",
        bitrate: Optional[int] = None,
        clip: str = "clamp",
    ) -> Dict[str, Any]:
        """Separates every audio file under `in_dir` (or the shard `shard` of them) as ``saex
        batch --in IN_DIR --out OUT_DIR --shard I/N`` does, with this separator: the same
        output paths, atomic outputs, finished files skipped, and a file that fails reported
        while the others go on. For a cluster worker that holds one loaded separator (see
        python/examples/ray_catalogue.py).

        Args:
            in_dir: the folder of mixes, read recursively (hidden files skipped).
            out_dir: the output folder.
            shard: ``(index, count)``: the files sorted by path, file k taken when ``k %
                count == index``, as ``saex batch --shard INDEX/COUNT``.
            filename: the output template below `out_dir` (``{track}``, ``{name}``,
                ``{folder}``, ``{ext}``, ``{target}``); its extension chooses the format.
            residual: also write the mix minus the targets under this target name.
            include: only the inputs whose path below `in_dir` matches one of these globs.
            overwrite: separate again files whose outputs exist.
            sample_format, bitrate, clip: as :meth:`separate_file`.

        Returns:
            ``{"processed", "skipped", "failed", "seconds_audio", "seconds", "files"}``,
            where each of "files" (in the order worked) is ``{"input", "outputs", "outcome"
            ("done", "skipped" or "failed"), "error" (the message naming the file, or None),
            "seconds_audio", "seconds", "warnings"}``.

        Raises:
            SaexError: `in_dir` is not a folder.
            ValueError: a bad template, shard or format; two inputs whose outputs would be
                one file (checked before any work).
            KeyboardInterrupt: Ctrl-C stopped it; the file in progress left nothing.
        """
        return self._inner.batch(
            _os.fspath(in_dir),
            _os.fspath(out_dir),
            tuple(shard),
            filename,
            residual,
            list(include),
            overwrite,
            sample_format,
            bitrate,
            clip,
        )

    @property
    def targets(self) -> list:
        """The targets, in the models' order (the keys of :meth:`separate`'s result)."""
        return self._inner.targets

    @property
    def sample_rate(self) -> int:
        """The models' sample rate in Hz."""
        return self._inner.sample_rate

    @property
    def latency(self) -> str:
        """The mode separations run in: "normal" or "low"."""
        return self._inner.latency

    @property
    def algorithmic_latency(self) -> int:
        """The low-latency mode's delay in samples at :attr:`sample_rate` (from the STFT and
        the models' future context)."""
        return self._inner.algorithmic_latency

    @property
    def device(self) -> str:
        """Where the networks run: "cpu", "cuda:0", ..."""
        return self._inner.device

    def __repr__(self) -> str:
        return (
            f"saex.Separator(targets={self.targets}, sample_rate={self.sample_rate}, "
            f"latency={self.latency!r}, device={self.device!r})"
        )


def read_audio(path: PathLike) -> Tuple[Any, int]:
    """Reads an audio file in any format the command line reads (WAV/RF64, FLAC, MP3, Ogg
    Vorbis, Opus, AAC/M4A, ALAC, AIFF; a MUSDB18 .stem.mp4 gives its mixture).

    Returns:
        ``(audio, rate)``: float32 ``[channels, samples]`` and the sample rate in Hz.

    Raises:
        FileNotFoundError: no such file. SaexError: not audio saex can read (the message
        names the file and the problem).
    """
    return _saex.read_audio(_os.fspath(path))


def write_audio(
    path: PathLike,
    audio: Any,
    rate: int,
    *,
    sample_format: str = "16",
    format: Optional[str] = None,
    bitrate: Optional[int] = None,
    clip: str = "clamp",
) -> None:
    """Writes ``[channels, samples]`` audio (float32/float64 array or tensor) to `path`,
    atomically (complete or not at all).

    Args:
        path: the file; its extension chooses the format (.wav, .flac, .raw, .mp3, .ogg)
            unless `format` names it.
        sample_format: "16" (the default), "24" or "float" (WAV and raw only).
        bitrate: kbit/s of MP3 and Ogg Vorbis.
        clip: "clamp" (the default), "rescale" or "none"; samples beyond full scale are
            reported with a UserWarning (except with "none").

    Raises:
        ValueError: an extension saex does not write, a format that cannot hold the audio
            (e.g. MP3 beyond 2 channels), a bad setting. OSError: the folder is missing or
            not writable.
    """
    array, _ = _host_array(audio, _os.fspath(path))
    _saex.write_audio(_os.fspath(path), array, rate, sample_format, format, bitrate, clip)


def evaluate(
    references: Mapping[str, Any],
    estimates: Mapping[str, Any],
    rate: int,
    *,
    window: Optional[int] = None,
    hop: Optional[int] = None,
) -> Dict[str, Any]:
    """Scores estimates against references with BSS Eval v4, exactly as museval does.

    Args:
        references: ``{source: [channels, samples] array or tensor}``, every source of the
            mix that is scored (e.g. "vocals" and "accompaniment"), all of one shape.
        estimates: the same sources' estimates, the same shape.
        rate: the sample rate in Hz.
        window, hop: in samples; museval's 1 s (`rate`) by default.

    Returns:
        museval's dict (``museval.TrackStore.scores``): ``{"targets": [{"name", "frames":
        [{"time", "duration", "metrics": {"SDR", "SIR", "SAR", "ISR"}}]}], ...}``, values in
        dB rounded to 5 decimals, NaN where museval writes NaN (silent windows).

    Raises:
        ValueError: sources that differ between the two, shapes that differ, silent or
            non-finite sources.
    """
    refs = {name: _host_array(a, f"references[{name!r}]")[0] for name, a in references.items()}
    ests = {name: _host_array(a, f"estimates[{name!r}]")[0] for name, a in estimates.items()}
    return _json.loads(_saex.evaluate_json(refs, ests, rate, window, hop))


def train(
    data: PathLike,
    target: str,
    out: PathLike,
    *,
    progress: Optional[Callable[[Dict[str, Any]], Any]] = None,
    device: str = "cpu",
    resume: bool = False,
    force: bool = False,
    quiet: bool = True,
    **settings: Any,
) -> Dict[str, Any]:
    """Trains a model layer by layer, as ``saex train`` does (docs/training.md).

    Args:
        data: a data folder in the MUSDB18-HQ layout (``data/train/<track>/<stem>.wav``,
            ``data/valid/...``).
        target: the stem to extract, e.g. "vocals".
        out: the model folder to write (config.json, model.safetensors, history.csv,
            history.png); the checkpoint for resuming goes to ``out/checkpoint``.
        progress: called with each row of the history as it is recorded (a dict with
            "stage", "nb_layers", "epoch", "train_loss", "valid_loss", "seconds"), once the
            row's checkpoint is saved, synchronously: on saex's training thread, holding the
            GIL, while the training waits for it. An exception from it (KeyboardInterrupt
            included) stops the training at once, keeping that row's checkpoint, and is
            raised by ``train``.
        device: "cpu", "cuda", "cuda:N" or "auto".
        resume: continue from ``out/checkpoint`` (or train a finished model longer).
        force: replace a model or checkpoint already in `out`.
        quiet: no messages on standard error (the command line's log).
        settings: the model's shape (``sample_rate``, ``n_fft``, ``hop``, ``context``,
            ``nb_bins_in``, ``nb_bins``, ``nb_layers``, ``init``, ...) and the training's
            settings (``epochs_per_stage``, ``finetune_epochs``, ``frames_per_epoch``,
            ``batch_size``, ``lr``, ...) by the names config.json records; an unknown name
            raises TypeError listing the valid ones.

    Returns:
        ``{"out", "best_valid_loss", "best_at", "epochs", "seconds", "frames_per_second",
        "history"}``.

    Raises:
        KeyboardInterrupt: Ctrl-C: the training stopped after the last finished epoch, whose
            checkpoint stays (train again with ``resume=True``).
        Exception: what `progress` raised (the training stopped there, its checkpoint kept).
        FileNotFoundError, SaexError, ValueError: bad data, a bad setting, a model already
            in `out` without `force`.
    """
    return _saex.train(
        _os.fspath(data), target, _os.fspath(out), progress, device, resume, force, quiet,
        settings,
    )
