"""``score_video``: decode and model running concurrently, one score per sampled frame."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from tqdm import tqdm

from .._internal.prefetch import prefetch
from ..errors import InputError, PathLike, VideoError
from ..models import AestheticModel, load_model
from ..video import Sampling, VideoSource, open_video
from ..video.types import Span
from .framestats import HASH_BYTES, MEASURES, FrameMeasures
from .record import ScoreCurve, file_fingerprint
from .shots import cut_spikes

log = logging.getLogger("vidaesthetic")

def progress_enabled(progress: Optional[bool]) -> bool:
    """An explicit choice wins; by default show progress only on an interactive terminal."""
    return sys.stderr.isatty() if progress is None else progress


def score_video(
    video: Union[PathLike, VideoSource],
    model: Optional[AestheticModel] = None,
    *,
    sampling: Sampling = Sampling(),
    batch_size: int = 32,
    backend: str = "auto",
    keep_embeddings: bool = False,
    cache: Optional[PathLike] = None,
    progress: Optional[bool] = None,
    spans: Optional[Sequence[Span]] = None,
    reference_only: bool = False,
    find_cuts: bool = False,
) -> ScoreCurve:
    """Score every sampled frame of a video (or of its ``spans``).

    Args:
        video: a path, or a source from :func:`vidaesthetic.open_video`.
        model: the model to score with; the default model when None.
        sampling: every frame, every k-th, or a rate in frames per second.
        batch_size: frames per model call.
        backend: decoder when ``video`` is a path (see :func:`open_video`).
        keep_embeddings: also keep each frame's embedding (float16) in the curve.
        cache: a saved curve (``scores.json``) to reuse when it was made from the
            same file, model and sampling and holds every measure this version
            takes; it is not written here.
        progress: a progress bar on stderr; None shows it only on a terminal.
        spans: score only frames presented within these (start, end) spans (seconds).
        reference_only: decode only frames that others refer to where the
            codec allows (cheaper; for coarse passes, see :mod:`vidaesthetic.curve.fast`).
        find_cuts: measure every frame the pass decodes but score only the
            sampled ones, and keep the hard cuts found between the measured
            frames as the curve's ``cuts`` (measuring costs little beside the model).

    Returns:
        The raw :class:`ScoreCurve` (not yet smoothed).
    """
    if batch_size < 1:
        raise InputError("batch size must be at least 1")
    model = model if model is not None else load_model()
    source = video if isinstance(video, VideoSource) else open_video(video, backend=backend)
    try:
        fingerprint = file_fingerprint(source.info.path)
        if cache is not None and Path(cache).is_file():
            try:
                cached = ScoreCurve.load(cache)
            except InputError:
                cached = None
            complete = cached is not None and cached.hashes is not None and (
                not keep_embeddings or cached.embeddings is not None) and (not find_cuts or cached.cuts is not None)
            if complete and cached.matches(fingerprint, model.describe(), sampling.describe()):
                return cached
        part = {"spans": spans, "reference_only": reference_only}
        return _score(source, model, sampling, part, batch_size, keep_embeddings, find_cuts, fingerprint, progress)
    finally:
        if source is not video:
            source.close()


def _score(
    source: VideoSource,
    model: AestheticModel,
    sampling: Sampling,
    part: Dict[str, Any],
    batch_size: int,
    keep_embeddings: bool,
    find_cuts: bool,
    fingerprint: dict,
    progress: Optional[bool],
) -> ScoreCurve:
    device = model.device
    pin = device.type == "cuda"
    # Per-frame values go into plain lists: many small arrays kept between the
    # large transient buffers of each batch fragment the heap until memory
    # grows with the video's length.
    columns: Dict[str, List[float]] = {name: [] for name in ("times", "indices", "raw", *MEASURES)}
    hashes = bytearray()
    measure = FrameMeasures()
    embeddings: List[np.ndarray] = []
    measured: Dict[str, List[float]] = {"times": [], "change": []}  # every decoded frame, when finding cuts
    scored = sampling.selector()

    def decoded():
        decoding = Sampling() if find_cuts else sampling
        for batch in source.batches(batch_size=batch_size, size=model.frame_size, sampling=decoding, **part):
            if pin:
                batch.frames = batch.frames.contiguous(memory_format=torch.channels_last).pin_memory()
            yield batch

    bar = tqdm(
        total=_expected_frames(source, sampling, part["spans"]) or None,
        unit="frame",
        desc=Path(source.info.path).name,
        disable=not progress_enabled(progress),
        file=sys.stderr,
        leave=False,
    )
    with bar:
        for batch in prefetch(decoded):
            frames, times, indices = batch.frames.to(device, non_blocking=pin), batch.times, batch.indices
            measures = measure(frames)
            if find_cuts:  # every frame measured, the sampled ones scored
                measured["times"].extend(times.tolist())
                measured["change"].extend(measures["change"].tolist())
                keep = np.array([scored.take(i, t) for i, t in zip(indices.tolist(), times.tolist())])
                if not keep.any():
                    continue
                frames, measures = frames[torch.from_numpy(keep).to(device)], {k: v[keep] for k, v in measures.items()}
                times, indices = times[keep], indices[keep]
            raw, embedding = embed_batch(model, frames)
            columns["raw"].extend(raw.tolist())
            for name in MEASURES:
                columns[name].extend(measures[name].tolist())
            hashes.extend(measures["hash"].numpy().tobytes())
            if keep_embeddings:
                embeddings.append(embedding.to(torch.float16).cpu().numpy())
            columns["times"].extend(times.tolist())
            columns["indices"].extend(indices.tolist())
            bar.update(len(indices))
    if not columns["times"]:
        if part["spans"] is not None:
            raise InputError(f"no frames in the spans {part['spans']}", source.info.path)
        raise VideoError("has no decodable video frames", source.info.path)
    report_corrupt(source)
    # Streams with non-monotonic timestamps present frames out of order: a curve is in time order.
    order = np.argsort(np.asarray(columns["times"]), kind="stable")
    return ScoreCurve(
        times=np.asarray(columns["times"], dtype=np.float64)[order],
        indices=np.asarray(columns["indices"], dtype=np.int64)[order],
        raw=np.asarray(columns["raw"], dtype=np.float64)[order],
        **{name: np.asarray(columns[name], dtype=np.float32)[order] for name in MEASURES},
        hashes=np.frombuffer(bytes(hashes), dtype=np.uint8).reshape(-1, HASH_BYTES)[order],
        video=source.info,
        model=model.describe(),
        sampling=sampling.describe(),
        source={**fingerprint, "backend": source.backend},
        corrupt_frames=source.corrupt_frames,
        embeddings=np.concatenate(embeddings)[order] if keep_embeddings else None,
        cuts=_cut_times(measured) if find_cuts else None,
    )


def _cut_times(measured: Dict[str, List[float]]) -> np.ndarray:
    order = np.argsort(np.asarray(measured["times"]), kind="stable")
    times, change = np.asarray(measured["times"])[order], np.asarray(measured["change"])[order]
    return times[cut_spikes(times, change)]


@torch.inference_mode()
def embed_batch(model: AestheticModel, frames: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """The step of scoring every pass shares: (scores, embeddings) of a batch on the model's device.

    The score is the embedding's L2 norm.
    """
    with model.autocast():
        embedding = model.embed(frames)
    return torch.linalg.vector_norm(embedding.float(), dim=1), embedding


def report_corrupt(source: VideoSource) -> None:
    """Say how many packets the decoder rejected and skipped in the pass just finished."""
    if source.corrupt_frames:
        log.warning("%s: skipped %d corrupt packet(s)", source.info.path, source.corrupt_frames)


def _expected_frames(source: VideoSource, sampling: Sampling, spans: Optional[Sequence[Span]]) -> int:
    """About how many frames a pass will score, for the progress bar."""
    info = source.info
    seconds = info.duration if spans is None else sum(max(0.0, end - start) for start, end in spans)
    return int(seconds * min(sampling.fps or info.fps, info.fps or 0) / sampling.stride) + 1


@torch.inference_mode()
def embed_frames(source: VideoSource, model: AestheticModel, times: Sequence[float]) -> Dict[float, np.ndarray]:
    """Embeddings of the frames at ``times`` (decoded again, one at a time), keyed by the frames' times.

    For the few frames a decision needs, this costs far less than keeping
    every frame's embedding while scoring.
    """
    embeddings: Dict[float, np.ndarray] = {}
    for time, picture in source.frames_at(times):
        frame = torch.from_numpy(picture).permute(2, 0, 1)[None].to(model.device)
        with model.autocast():
            embeddings[time] = model.embed(frame)[0].float().cpu().numpy()
    return embeddings
