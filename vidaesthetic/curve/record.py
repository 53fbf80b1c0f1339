"""``ScoreCurve``: every scored frame of a video, with where the scores came from.

:mod:`vidaesthetic.output.scores` saves it as ``scores.json`` (plus an NPZ
for embeddings) and :meth:`ScoreCurve.load` reads it back, so that spots and
plots can be recomputed without decoding the video again.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Optional

import numpy as np

from .._version import __version__
from ..errors import InputError, PathLike
from ..video.types import VideoInfo
from .framestats import HASH_BYTES

if TYPE_CHECKING:
    from .shots import FrameClasses

FORMAT = "vidaesthetic.scores"
FORMAT_VERSION = 1


def file_fingerprint(path: PathLike) -> Dict[str, Any]:
    """What identifies a video file for reuse of its scores: path, size and modification time."""
    stat = os.stat(path)
    return {"path": os.path.abspath(path), "size": stat.st_size, "mtime": stat.st_mtime}


@dataclass
class ScoreCurve:
    """Per-frame scores of one video in presentation order.

    Attributes:
        times: presentation times (s) of the scored frames.
        indices: their frame numbers in decoding order of presentation.
        raw: the model's score of each frame.
        luma_mean, luma_std, sharpness, change: model-independent measurements of each
            frame (see :mod:`vidaesthetic.curve.framestats`), used to keep black, blank,
            blurred and transition frames out of the picks; sharpness and change
            are None in curves saved by older versions.
        hashes: N x 32 uint8 perceptual hashes, by which the same picture is known
            wherever it recurs (see :mod:`vidaesthetic.curve.duplicates`); None in
            curves saved by older versions.
        cuts: times (s) of the hard cuts, when they were found on more frames than
            were scored (fast mode's coarse pass measures every frame it decodes);
            None when the curve's own ``change`` shows them.
        smoothed: Kalman-smoothed scores, once :func:`vidaesthetic.smooth` has run.
        embeddings: float16 embeddings (N x D) when asked for (fast mode keeps those of
            the frames around its candidates; other rows are NaN).

    Each frame's shot and whether it may be picked (:attr:`shots`,
    :attr:`pickable`) are worked out once, on first use, and travel with the
    curve through :meth:`with_smoothing`; a copy with other frames
    (``dataclasses.replace``) works them out again. They are not saved: they
    follow from the saved measurements.
    """

    times: np.ndarray
    indices: np.ndarray
    raw: np.ndarray
    luma_mean: np.ndarray
    luma_std: np.ndarray
    video: VideoInfo
    model: Dict[str, Any]
    sampling: Dict[str, Any]
    source: Dict[str, Any] = field(default_factory=dict)
    corrupt_frames: int = 0
    smoothed: Optional[np.ndarray] = None
    smoothing: Optional[Dict[str, Any]] = None
    embeddings: Optional[np.ndarray] = None
    sharpness: Optional[np.ndarray] = None
    change: Optional[np.ndarray] = None
    hashes: Optional[np.ndarray] = None
    cuts: Optional[np.ndarray] = None
    _classes: Optional["FrameClasses"] = field(default=None, init=False, repr=False, compare=False)

    def __len__(self) -> int:
        return int(self.times.shape[0])

    @property
    def values(self) -> np.ndarray:
        """The smoothed scores when present, else the raw ones."""
        return self.smoothed if self.smoothed is not None else self.raw

    @property
    def shots(self) -> np.ndarray:
        """A shot number per frame; blank runs between shots are -1 (see :mod:`vidaesthetic.curve.shots`)."""
        return self._frame_classes().shots

    @property
    def reasons(self) -> np.ndarray:
        """Why each frame is not pickable ("" when it is): a defect or a margin (see :mod:`vidaesthetic.curve.shots`)."""
        return self._frame_classes().reasons

    @property
    def repeats(self) -> Dict[int, int]:
        """Shots that show again what an earlier shot showed, each mapped to the first shot that showed it
        (see :mod:`vidaesthetic.curve.duplicates`)."""
        return self._frame_classes().repeats

    @property
    def pickable(self) -> np.ndarray:
        """Which frames may be key frames: no defect, and not in a margin (next to a cut or an end)."""
        return self.reasons == ""

    @property
    def defective(self) -> np.ndarray:
        """Frames never picked whatever happens (blank, blurred, fading, ...); margins are not defects."""
        from .shots import DEFECTS

        return np.isin(self.reasons, DEFECTS)

    def _frame_classes(self) -> "FrameClasses":
        if self._classes is None:
            from .shots import classify_frames  # shots reads curves: imported here, not at the top

            self._classes = classify_frames(self)
            for array in (self._classes.shots, self._classes.reasons):
                array.flags.writeable = False  # shared by every stage that reads them
        return self._classes

    def with_smoothing(self, smoothed: np.ndarray, parameters: Dict[str, Any]) -> "ScoreCurve":
        """A copy with ``smoothed`` scores; the same frames, so the same shots."""
        copy = replace(self, smoothed=np.asarray(smoothed, dtype=np.float64), smoothing=dict(parameters))
        copy._classes = self._classes
        return copy

    def matches(self, source: Dict[str, Any], model: Dict[str, Any], sampling: Dict[str, Any]) -> bool:
        """True when this curve was computed from the same file, model and sampling."""
        same_file = all(self.source.get(k) == source.get(k) for k in ("path", "size", "mtime"))
        return same_file and self.model == model and self.sampling == sampling

    def to_dict(self) -> Dict[str, Any]:
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "vidaesthetic": __version__,
            "video": self.video.to_dict(),
            "source": self.source,
            "model": self.model,
            "sampling": self.sampling,
            "smoothing": self.smoothing,
            "corrupt_frames": self.corrupt_frames,
            "cuts": None if self.cuts is None else self.cuts.tolist(),
            "frames": {
                "index": self.indices.tolist(),
                "time": self.times.tolist(),
                "raw": self.raw.tolist(),
                "smoothed": None if self.smoothed is None else self.smoothed.tolist(),
                "luma_mean": self.luma_mean.tolist(),
                "luma_std": self.luma_std.tolist(),
                "sharpness": None if self.sharpness is None else self.sharpness.tolist(),
                "change": None if self.change is None else self.change.tolist(),
                "hash": None if self.hashes is None else [row.tobytes().hex() for row in self.hashes],
                "pickable": self.pickable.astype(int).tolist(),
                "reason": self.reasons.tolist(),
            },
        }

    @classmethod
    def load(cls, path: PathLike) -> "ScoreCurve":
        """Read a curve saved by :meth:`save`."""
        path = Path(path)
        try:
            with open(path, encoding="utf-8") as handle:
                document = json.load(handle)
            if document.get("format") != FORMAT:
                raise ValueError("not a vidaesthetic scores file")
            frames = document["frames"]
            embeddings = None
            if document.get("embeddings_file"):
                with np.load(path.parent / document["embeddings_file"], allow_pickle=False) as stored:
                    embeddings = stored["embeddings"]
            smoothed = frames.get("smoothed")
            hashes = frames.get("hash")

            def optional(name: str) -> Optional[np.ndarray]:
                values = frames.get(name)
                return None if values is None else np.asarray(values, dtype=np.float32)

            return cls(
                times=np.asarray(frames["time"], dtype=np.float64),
                indices=np.asarray(frames["index"], dtype=np.int64),
                raw=np.asarray(frames["raw"], dtype=np.float64),
                luma_mean=np.asarray(frames["luma_mean"], dtype=np.float32),
                luma_std=np.asarray(frames["luma_std"], dtype=np.float32),
                video=VideoInfo.from_dict(document["video"]),
                model=document["model"],
                sampling=document["sampling"],
                source=document.get("source", {}),
                corrupt_frames=int(document.get("corrupt_frames", 0)),
                smoothed=None if smoothed is None else np.asarray(smoothed, dtype=np.float64),
                smoothing=document.get("smoothing"),
                embeddings=embeddings,
                sharpness=optional("sharpness"),
                change=optional("change"),
                cuts=None if document.get("cuts") is None else np.asarray(document["cuts"], dtype=np.float64),
                hashes=None if hashes is None else np.frombuffer(bytes.fromhex("".join(hashes)), dtype=np.uint8)
                .reshape(len(hashes), HASH_BYTES),
            )
        except FileNotFoundError:
            raise InputError("no such file", path) from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
            raise InputError(f"not a readable scores file ({reason})", path) from None
