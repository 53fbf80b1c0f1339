"""Score curves read back from files, to plot and smooth them without a model or a decode.

- ``scores.json``: vidaesthetic's own record (:meth:`ScoreCurve.load`).
- ``*.score``: the authors' per-frame scores (HDF5, dataset ``group1/dataset1``;
  needs h5py: ``pip install "vidaesthetic[authors]"``). The file holds no
  times, so they are the presentation times of the video beside it
  (``X.mp4`` for ``X.mp4.score``, else the authors' re-encode ``X-small.mp4``),
  read from its packets without decoding.
- ``*.csv``: a row per frame with ``frame``, ``time`` (seconds) and ``raw``
  columns, such as a ``scores.csv``; other columns are ignored.

A curve read from a ``.score`` or CSV file has no frame measurements (they
are NaN), so no frame of it is held back as blank, blurred or fading.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import List, Optional

import numpy as np

from ..errors import InputError, PathLike
from ..video.probe import PacketIndex, probe
from ..video.types import VideoInfo
from .record import ScoreCurve

SCORE_FILES = (".json", ".score", ".csv")
"""Suffixes of the files :func:`read_curve` reads."""
AUTHORS_DATASET = "group1/dataset1"
CSV_COLUMNS = ("frame", "time", "raw")


def read_curve(path: PathLike) -> ScoreCurve:
    """The curve in ``path``, by its suffix: ``.json``, ``.score`` or ``.csv`` (see the module docstring)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        return ScoreCurve.load(path)
    if suffix == ".score":
        return read_authors_scores(path)
    if suffix == ".csv":
        return read_csv_scores(path)
    raise InputError(f"is not a scores file ({', '.join(SCORE_FILES)})", path)


def read_authors_scores(path: PathLike, video: Optional[PathLike] = None) -> ScoreCurve:
    """The authors' ``.score`` file, timed by ``video`` (default: the video beside it)."""
    path = Path(path)
    scores = _hdf5_scores(path)
    video = Path(video) if video is not None else _video_beside(path)
    times = PacketIndex.scan(str(video)).times
    if len(times) < len(scores):
        raise InputError(f"holds {len(scores)} scores but its video {video.name} has {len(times)} frames", path)
    return _curve(times[: len(scores)], scores, probe(str(video)), {"name": "authors' scores", "file": str(path)})


def read_csv_scores(path: PathLike) -> ScoreCurve:
    """A per-frame CSV with ``frame,time,raw`` columns (a ``scores.csv`` is one)."""
    path = Path(path)
    rows: List[tuple] = []
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = [name for name in CSV_COLUMNS if name not in (reader.fieldnames or [])]
            if missing:
                raise InputError(f"has no {', '.join(missing)} column (a row per frame: frame,time,raw)", path)
            for line, row in enumerate(reader, start=2):
                try:
                    rows.append((int(row["frame"]), float(row["time"]), float(row["raw"])))
                except (TypeError, ValueError):
                    raise InputError(f"line {line} is not a frame number, a time and a score", path) from None
    except FileNotFoundError:
        raise InputError("no such file", path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot be read ({getattr(exc, 'strerror', None) or exc})", path) from None
    if not rows:
        raise InputError("holds no frames", path)
    rows.sort(key=lambda row: row[1])
    frames, times, raw = (np.asarray(column) for column in zip(*rows))
    steps = np.diff(times)
    fps = float(1 / np.median(steps)) if len(steps) and np.median(steps) > 0 else 0.0
    info = VideoInfo(path=str(path), width=0, height=0, coded_width=0, coded_height=0, rotation=0,
                     sample_aspect_ratio=1.0, fps=fps, frame_count=len(rows), frame_count_exact=False,
                     duration=float(times[-1] - times[0]), codec="", variable_frame_rate=False,
                     start_time=float(times[0]))
    return _curve(times, raw, info, {"name": "scores from a CSV file", "file": str(path)}, frames)


def _hdf5_scores(path: Path) -> np.ndarray:
    try:
        import h5py
    except ImportError:
        raise InputError('needs h5py to read the authors\' scores: pip install "vidaesthetic[authors]"', path) from None
    if not path.is_file():
        raise InputError("no such file", path)
    try:
        with h5py.File(path, "r") as stored:
            return np.asarray(stored[AUTHORS_DATASET], dtype=np.float64).reshape(-1)
    except (OSError, KeyError) as exc:
        raise InputError(f"is not an authors' scores file with {AUTHORS_DATASET} ({exc})", path) from None


def _video_beside(path: Path) -> Path:
    video = path.with_suffix("")  # X.mp4.score -> X.mp4
    candidates = [video, video.with_name(f"{video.stem}-small{video.suffix}")]
    found = next((candidate for candidate in candidates if candidate.is_file()), None)
    if found is None:
        raise InputError(f"has no video beside it for the frame times (looked for "
                         f"{' and '.join(candidate.name for candidate in candidates)})", path)
    return found


def _curve(times: np.ndarray, raw: np.ndarray, info: VideoInfo, model: dict,
           frames: Optional[np.ndarray] = None) -> ScoreCurve:
    count = len(raw)
    unmeasured = np.full(count, np.nan, dtype=np.float32)
    return ScoreCurve(times=np.asarray(times, dtype=np.float64),
                      indices=np.arange(count) if frames is None else np.asarray(frames, dtype=np.int64),
                      raw=np.asarray(raw, dtype=np.float64), luma_mean=unmeasured, luma_std=unmeasured.copy(),
                      video=info, model=model, sampling={"source": model["file"]})
