"""Scoring live video as it arrives, and the paper's "best handy shot".

A live source (a network stream, a pipe, a webcam; see
:func:`vidaesthetic.video.open_live`) has no end to wait for and cannot be
read twice, so it is scored in one pass, by the same per-batch step as a
file (:func:`vidaesthetic.curve.scoring.embed_batch`), with the causal
Kalman filter (:class:`CausalSmoother`): one score per frame as frames
arrive. When the model falls behind a live source, :func:`stream_scores`
drops the oldest queued frames (and counts them) so that latency stays
bounded, while :func:`best_frame`, which needs every frame more than it
needs speed, lets decoding wait.
"""

from __future__ import annotations

import logging
import math
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Generator, Iterator, Optional, Tuple

import numpy as np

from .._internal.atomic import OutputSet
from ..curve.framestats import FrameMeasures
from ..curve.scoring import embed_batch, report_corrupt
from ..curve.shots import blank
from ..curve.smoothing import CausalSmoother
from ..errors import InputError, PathLike, VideoError
from ..models import AestheticModel, load_model
from ..output.image import write_image
from ..video import Sampling, open_live
from ..video.live import LiveInput, source_label

log = logging.getLogger("vidaesthetic")

Source = LiveInput

SHOT_FORMATS = {".jpg": "jpg", ".jpeg": "jpg", ".png": "png", ".webp": "webp"}
"""Image suffixes :func:`save_best` writes, and their formats."""


@dataclass
class StreamScore:
    """The score of one frame, and the best usable frame so far (NaN until there is one)."""

    time: float
    score: float
    smoothed: float
    best_time: float
    best_score: float
    """Smoothed score of the best usable frame so far."""
    dropped: int = 0
    """Frames dropped so far because the model fell behind a live source."""


@dataclass
class BestShot:
    """The best frame of a capture, upright at full display resolution (H x W x 3, RGB)."""

    time: float
    score: float
    smoothed: float
    frame: np.ndarray


def stream_scores(
    source: Source,
    model: Optional[AestheticModel] = None,
    *,
    time_constant: float = 1.0,
    max_fps: Optional[float] = None,
    batch_size: int = 1,
    open_timeout: float = 15.0,
    read_timeout: float = 10.0,
) -> Iterator[StreamScore]:
    """Score a video while it arrives, yielding one :class:`StreamScore` per scored frame.

    Args:
        source: a file path, a URL, ``"-"`` for stdin, a FIFO, an open
            binary file or a webcam (``/dev/videoN``, ``"webcam:N"``); see
            :class:`vidaesthetic.video.live.LiveSource` for how each is read.
        model: the model to score with; the default model when None.
        time_constant: of the causal Kalman filter, in seconds (0: no smoothing).
        max_fps: score at most this many frames per second of the source.
        batch_size: frames per model call at most; each call takes the frames
            that have arrived and never waits for a batch to fill.
        open_timeout: seconds to wait for the source to open.
        read_timeout: seconds without data after which the source has stalled.

    Times are the frames' presentation times; frames without one get the
    wall-clock seconds since the source opened. Frames of a live source (not
    a regular file) are dropped, oldest first, when the model falls behind;
    ``dropped`` counts them. Closing the iterator stops decoding and closes
    the source (after at most ``read_timeout`` for a network read in progress).

    Raises:
        VideoError: the source cannot be opened or read, times out or stalls.
    """
    scored = _scored(source, model, time_constant, max_fps, batch_size, open_timeout, read_timeout, may_drop=True)
    with closing(scored):
        for score, _ in scored:
            yield score


def best_frame(
    source: Source,
    model: Optional[AestheticModel] = None,
    *,
    time_constant: float = 0.3,
    duration: Optional[float] = None,
    batch_size: int = 8,
    open_timeout: float = 15.0,
    read_timeout: float = 10.0,
) -> BestShot:
    """The best usable frame of a short capture (the paper's "best handy shot").

    The best is the frame with the highest causally smoothed score, so one
    sharp frame amid shaky ones does not win by luck. Every frame is scored:
    when the model falls behind, decoding waits instead of dropping frames
    (a live source then lags, which a search for the best frame can afford).
    Only the current best frame is kept, so memory does not grow with the
    capture.

    Args:
        source: as for :func:`stream_scores`.
        duration: stop after this many seconds of the source (for sources
            that do not end, such as webcams); None reads to the end.
        batch_size: frames per model call at most (see :func:`stream_scores`).

    Raises:
        VideoError: as for :func:`stream_scores`, or when no frame is usable
            (every frame is black, white or blank).
    """
    best: Optional[Tuple[StreamScore, Iterator[Tuple[float, np.ndarray]]]] = None
    start: Optional[float] = None
    scored = _scored(source, model, time_constant, None, batch_size, open_timeout, read_timeout, may_drop=False)
    with closing(scored):
        for score, frame in scored:
            start = score.time if start is None else start
            if frame is not None:
                best = (score, frame)
            if duration is not None and score.time - start >= duration:
                break
    if best is None:
        raise VideoError("has no usable frame (every frame is black, white or blank)", source_label(source))
    score, frame = best
    [(_, picture)] = frame
    return BestShot(score.time, score.score, score.smoothed, picture)


def save_best(shot: BestShot, path: PathLike) -> Path:
    """Write the shot as JPEG, PNG or WebP (by the suffix), complete or not at all."""
    path = Path(path)
    image_format = SHOT_FORMATS.get(path.suffix.lower())
    if image_format is None:
        raise InputError(f"unsupported image format {path.suffix!r}; use .jpg, .png or .webp", path)
    with OutputSet(path.parent) as outputs:
        write_image(shot.frame, outputs, path.name, image_format)
    return path


def _scored(
    source: Source,
    model: Optional[AestheticModel],
    time_constant: float,
    max_fps: Optional[float],
    batch_size: int,
    open_timeout: float,
    read_timeout: float,
    may_drop: bool,
) -> Generator[Tuple[StreamScore, Optional[Iterator[Tuple[float, np.ndarray]]]], None, None]:
    """Scores, each with its frame (to be read once, see ``LiveSource.frames_at``) when it is the new best.

    ``may_drop``: drop frames of a live source when the model falls behind,
    rather than let it wait.
    """
    if batch_size < 1:
        raise InputError("batch size must be at least 1")
    try:
        sampling = Sampling(fps=max_fps)
    except ValueError as error:
        raise InputError(str(error)) from None
    model = model if model is not None else load_model()
    live = open_live(source, open_timeout=open_timeout, read_timeout=read_timeout, drop_late=may_drop)
    try:
        smoother = CausalSmoother(time_constant)
        measure = FrameMeasures()
        best_score = best_time = math.nan
        for batch in live.batches(batch_size=batch_size, size=model.frame_size, sampling=sampling):
            frames = batch.frames.to(model.device)
            (scores, _), measures = embed_batch(model, frames), measure(frames)
            for time, score, mean, spread in zip(batch.times.tolist(), scores.tolist(),
                                                 measures["luma_mean"].tolist(), measures["luma_std"].tolist()):
                smoothed = smoother.update(time, score)
                better = not blank(mean, spread) and (math.isnan(best_score) or smoothed > best_score)
                if better:
                    best_time, best_score = time, smoothed
                scored = StreamScore(time, score, smoothed, best_time, best_score, live.dropped)
                yield scored, live.frames_at([time]) if better else None
        report_corrupt(live)
    finally:
        live.close()
        if live.dropped:
            log.warning("%s: the model fell behind; dropped %d frame(s)", live.label, live.dropped)
