"""What a spots run is asked to do: one frozen, checked record that the CLI builds and the library takes.

:class:`SpotSettings` is checked when it is made, so a misspelt or
impossible option fails at once in the caller, not later in a batch
worker. Its :meth:`SpotSettings.digest` is the text ``spots.json`` records
so that a batch can tell a video already done with the same settings.
"""

from __future__ import annotations

import json
import math
import numbers
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from .curve.smoothing import DEFAULT_TIME_CONSTANT
from .curve.smoothing import METHODS as SMOOTHING_METHODS
from .curve.spots import DEFAULT_MAX_SIMILARITY, DEFAULT_MIN_GAP, DEFAULT_MIN_PROMINENCE
from .errors import InputError, PathLike
from .models.base import RESIZES
from .models.registry import MODELS, PRECISIONS
from .output.folder import IMAGE_FORMATS
from .output.markers import check_formats
from .output.plot import PLOT_FORMATS
from .video import BACKENDS, Sampling


@dataclass(frozen=True)
class Job:
    """One video of a batch and the folder its results go to."""

    video: Path
    out_dir: Path


@dataclass(frozen=True)
class SpotSettings:
    """How to find and write a video's spots; every field has the CLI's default.

    ``progress`` and ``threads`` are housekeeping: they change how a run
    goes, not what it writes, so they stay out of :meth:`digest`.
    """

    model_name: Optional[str] = None
    """``"baseline"``, ``"aesthetic-resnet50"``, or None for the learned model when installed."""
    weights: Optional[PathLike] = None
    """Weights file (safetensors) of the learned model."""
    device: str = "auto"
    """``"auto"``, ``"cpu"`` or ``"cuda[:N]"``."""
    precision: str = "auto"
    """One of ``PRECISIONS``: auto, fp32, bf16, fp16."""
    compile: bool = False
    """``torch.compile`` the network (slow first batch)."""
    resize: str = "direct"
    """How frames reach the network: ``"direct"`` or ``"authors"`` (see :func:`vidaesthetic.load_model`)."""
    batch_size: int = 32
    backend: str = "auto"
    """Video decoder: auto or one of ``BACKENDS``."""
    sampling: Sampling = Sampling()
    """Which frames to score (not used in fast mode)."""
    time_constant: float = DEFAULT_TIME_CONSTANT
    """Kalman smoothing time constant in seconds (0: none)."""
    smoothing: str = "kalman"
    """``"kalman"`` (per shot, without lag) or ``"authors"`` (the authors' video tool's curve; see
    :func:`vidaesthetic.curve.smoothing.authors_smooth`)."""
    top: Optional[int] = None
    """Number of spots; None chooses automatically."""
    min_gap: float = DEFAULT_MIN_GAP
    """Seconds between spots."""
    min_prominence: float = DEFAULT_MIN_PROMINENCE
    """How far a peak must rise above its surroundings, as a share of the curve's range."""
    per_shot: Optional[int] = None
    """Spots per shot at most; None: one per 10 s of shot; 0: no limit."""
    max_similarity: Optional[float] = DEFAULT_MAX_SIMILARITY
    """Cosine similarity above which a spot is a near-duplicate of a better one; None turns the check off."""
    image_format: str = "jpg"
    plot_format: str = "png"
    fast: Optional[bool] = None
    """Fast mode (a coarse pass, then dense scoring only around the candidates), dense (every sampled
    frame), or None: fast for a learned model on a CPU, where scoring every frame is slow, else dense."""
    markers: Tuple[str, ...] = ()
    """Editor/player marker exports (edl, vtt, otio, chapters)."""
    report: bool = True
    """Also write ``report.html``."""
    progress: Optional[bool] = None
    """A progress bar on stderr; None shows it only on a terminal. Housekeeping."""
    threads: Optional[int] = None
    """Torch threads for the run (None: torch's choice). Housekeeping."""

    def __post_init__(self) -> None:
        if self.model_name not in (None, *MODELS):
            raise InputError(f"unknown model {self.model_name!r}; use one of {', '.join(MODELS)}")
        if self.resize not in RESIZES:
            raise InputError(f"unknown resize {self.resize!r}; use one of {', '.join(RESIZES)}")
        if self.precision not in PRECISIONS:
            raise InputError(f"unknown precision {self.precision!r}; use one of {', '.join(PRECISIONS)}")
        if not isinstance(self.device, str) or not self.device:
            raise InputError(f"device must be auto, cpu or cuda[:N], not {self.device!r}")
        if self.backend not in ("auto", *BACKENDS):
            raise InputError(f"unknown backend {self.backend!r}; choose from auto, {', '.join(BACKENDS)}")
        if not isinstance(self.sampling, Sampling):
            raise InputError(f"sampling must be a Sampling, not {self.sampling!r}")
        for name in ("compile", "report"):
            if not isinstance(getattr(self, name), bool):
                raise InputError(f"{name} must be True or False, not {getattr(self, name)!r}")
        if self.fast is not None and not isinstance(self.fast, bool):
            raise InputError(f"fast must be True, False or None (chosen by model and device), not {self.fast!r}")
        self._set("batch_size", _count("batch_size", self.batch_size, 1))
        for name, least in (("top", 1), ("per_shot", 0), ("threads", 1)):
            if getattr(self, name) is not None:
                self._set(name, _count(name, getattr(self, name), least))
        self._set("time_constant", _number("time_constant", self.time_constant, 0.0))
        self._set("min_gap", _number("min_gap", self.min_gap, 0.0))
        self._set("min_prominence", _number("min_prominence", self.min_prominence, 0.0))
        if self.max_similarity is not None:
            self._set("max_similarity", _number("max_similarity", self.max_similarity, -1.0, 1.0))
        if self.smoothing not in SMOOTHING_METHODS:
            raise InputError(f"unknown smoothing {self.smoothing!r}; use one of {', '.join(SMOOTHING_METHODS)}")
        if self.image_format not in IMAGE_FORMATS:
            raise InputError(f"unsupported image format {self.image_format!r}; use one of {', '.join(IMAGE_FORMATS)}")
        if self.plot_format not in PLOT_FORMATS:
            raise InputError(f"unsupported plot format {self.plot_format!r}; use one of {', '.join(PLOT_FORMATS)}")
        if isinstance(self.markers, str):
            raise InputError(f"markers must be a sequence of format names, not the text {self.markers!r}")
        self._set("markers", check_formats(self.markers))

    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)  # normalising in __post_init__ of a frozen dataclass

    def model_options(self) -> Dict[str, Any]:
        """The keyword arguments of :func:`vidaesthetic.load_model` for this run's model."""
        return {"name": self.model_name, "weights": self.weights, "device": self.device,
                "precision": self.precision, "compile": self.compile, "resize": self.resize}

    def _recorded_mode(self) -> Any:
        if self.fast is not None:
            return self.fast
        return False if self.model_name == "baseline" or self.sampling != Sampling() else "auto"

    def digest(self) -> str:
        """A stable text of the settings that shape the results, recorded in ``spots.json`` as ``"settings"``.

        The text is the one earlier versions recorded, so their output
        folders still count as done; ``min_prominence``, ``smoothing``, ``resize`` and ``report``,
        which they could not set, enter it only when they differ from their
        defaults. Their default was dense: a mode left to the run is
        recorded as dense where it will be (the baseline model, or a
        sampling asked for), so those folders still count as done, and as
        ``"auto"`` elsewhere.
        """
        shaping: Dict[str, Any] = {
            "model": {**{key: value for key, value in self.model_options().items()
                         if key != "resize" or value != "direct"},
                      "weights": str(Path(self.weights)) if self.weights else None},
            "backend": self.backend, "sampling": self.sampling, "batch_size": self.batch_size,
            "time_constant": self.time_constant, "top": self.top, "min_gap": self.min_gap,
            "per_shot": self.per_shot, "max_similarity": self.max_similarity, "image_format": self.image_format,
            "plot_format": self.plot_format, "fast": self._recorded_mode(), "markers": self.markers,
        }
        if self.smoothing != "kalman":
            shaping["smoothing"] = self.smoothing
        if not self.report:
            shaping["report"] = False
        if self.min_prominence != DEFAULT_MIN_PROMINENCE:
            shaping["min_prominence"] = self.min_prominence
        return json.dumps(shaping, sort_keys=True, default=str)


def _count(name: str, value: Any, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < least:
        raise InputError(f"{name} must be a whole number of at least {least}, not {value!r}")
    return int(value)


def _number(name: str, value: Any, least: float, most: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) \
            or not least <= value <= most:
        bounds = f"from {least:g} to {most:g}" if most != math.inf else f"at least {least:g}"
        raise InputError(f"{name} must be a number {bounds}, not {value!r}")
    return float(value)
