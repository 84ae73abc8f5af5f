"""Type stub of saex: the signatures of saex/__init__.py, whose docstrings say the rest."""

import os
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt
import torch

__version__: str

PathLike = Union[str, os.PathLike[str]]
#: Audio in: ``[channels, samples]`` float32 or float64.
AudioIn = Union[npt.NDArray[np.float32], npt.NDArray[np.float64], torch.Tensor]

class SaexError(ValueError):
    """A file saex cannot use (not audio, truncated, a corrupt model, an output format that
    cannot hold the audio, ...); the message names it."""

class Separator:
    """One or more models loaded once, ready to separate many mixtures. One separation at a
    time per separator; make one per thread to run several at once."""

    def __init__(
        self,
        models: Union[PathLike, Sequence[PathLike]] = ("vocals",),
        device: str = "auto",
        latency: str = "normal",
        niter: int = 0,
        mask: str = "auto",
        precision: str = "auto",
        threads: Optional[int] = None,
    ) -> None: ...
    def separate(
        self, audio: AudioIn, rate: int, residual: bool = False
    ) -> Dict[str, Any]:
        """``{target: float32 [channels, samples]}`` (torch tensors for a tensor input), the
        input's shape and rate; "residual" too when asked."""
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
        """Writes ``out_dir/<target>.<format>`` (and ``residual.<format>``); returns
        ``{name: path}``."""
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
        """``saex batch --shard I/N`` over `in_dir` with this separator: counts and one dict
        per file ("input", "outputs", "outcome", "error", ...)."""
    @property
    def targets(self) -> List[str]: ...
    @property
    def sample_rate(self) -> int: ...
    @property
    def latency(self) -> str: ...
    @property
    def algorithmic_latency(self) -> int: ...
    @property
    def device(self) -> str: ...

def read_audio(path: PathLike) -> Tuple[npt.NDArray[np.float32], int]:
    """``(float32 [channels, samples], rate)`` of any file the command line reads."""

def write_audio(
    path: PathLike,
    audio: AudioIn,
    rate: int,
    *,
    sample_format: str = "16",
    format: Optional[str] = None,
    bitrate: Optional[int] = None,
    clip: str = "clamp",
) -> None:
    """Writes `audio` atomically; the extension chooses the format unless `format` does."""

def evaluate(
    references: Mapping[str, AudioIn],
    estimates: Mapping[str, AudioIn],
    rate: int,
    *,
    window: Optional[int] = None,
    hop: Optional[int] = None,
) -> Dict[str, Any]:
    """BSS Eval v4 as museval computes it; museval's ``TrackStore.scores`` dict."""

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
    """Trains a model as ``saex train`` does; `progress` gets each history row; Ctrl-C keeps
    the last epoch's checkpoint (``resume=True`` continues)."""
