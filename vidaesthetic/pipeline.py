"""The whole road for one video: score (or reuse saved scores), smooth, pick spots, export."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Union

import torch

from ._internal.atomic import check_output_directory
from .batch import Job, settings_digest
from .curve.fast import score_video_fast
from .curve.scoring import embed_frames, score_video
from .curve.smoothing import DEFAULT_TIME_CONSTANT, smooth
from .curve.spots import (
    DEFAULT_MAX_SIMILARITY,
    DEFAULT_MIN_GAP,
    DEFAULT_MIN_PROMINENCE,
    automatic_count,
    find_spots,
    selection_parameters,
)
from .errors import PathLike
from .models import AestheticModel, load_model
from .output.folder import SCORES_FILE, save_spots
from .video import Sampling, VideoSource, open_video

CANDIDATE_POOL = 3
"""Candidates embedded per spot wanted, for the near-duplicate check."""


def extract_spots(
    video: Union[PathLike, VideoSource],
    out_dir: PathLike,
    model: Optional[AestheticModel] = None,
    *,
    sampling: Sampling = Sampling(),
    batch_size: int = 32,
    backend: str = "auto",
    time_constant: float = DEFAULT_TIME_CONSTANT,
    top: Optional[int] = None,
    min_gap: float = DEFAULT_MIN_GAP,
    min_prominence: float = DEFAULT_MIN_PROMINENCE,
    per_shot: Optional[int] = None,
    max_similarity: Optional[float] = DEFAULT_MAX_SIMILARITY,
    image_format: str = "jpg",
    plot_format: str = "png",
    fast: bool = False,
    markers: Sequence[str] = (),
    settings: Optional[str] = None,
    progress: Optional[bool] = None,
) -> Dict[str, Any]:
    """Find a video's best spots and write them with their record and plot to ``out_dir``.

    Scores saved in ``out_dir`` by an earlier run are reused when they came
    from the same file, model and sampling. ``fast`` scores densely only
    around the best candidates (see :mod:`vidaesthetic.curve.fast`; ``sampling`` is
    then not used). ``per_shot`` and ``max_similarity`` are as in
    :func:`find_spots` (None turns the near-duplicate check off); the
    candidates' embeddings are computed here. Returns the ``spots.json`` document.
    """
    source = video if isinstance(video, VideoSource) else open_video(video, backend=backend)
    try:
        model = model if model is not None else load_model()
        if fast:
            curve = score_video_fast(source, model, top=top, time_constant=time_constant, min_gap=min_gap,
                                     batch_size=batch_size, progress=progress)
        else:
            curve = score_video(source, model, sampling=sampling, batch_size=batch_size,
                                cache=Path(out_dir) / SCORES_FILE, progress=progress)
        curve = smooth(curve, time_constant)
        options = {"top": top, "min_gap": min_gap, "min_prominence": min_prominence, "per_shot": per_shot}
        embeddings = None
        if max_similarity is not None:
            pool = find_spots(curve, **{**options, "top": CANDIDATE_POOL * (top or automatic_count(curve))})
            by_time = embed_frames(source, model, [spot.time for spot in pool])
            embeddings = {spot.frame_index: by_time[spot.time] for spot in pool if spot.time in by_time}
        spots = find_spots(curve, **options, embeddings=embeddings,
                           max_similarity=max_similarity if max_similarity is not None else 1.0)
        selection = selection_parameters(curve, top, min_gap, min_prominence, per_shot, max_similarity)
        return save_spots(
            source, curve, spots, out_dir, image_format=image_format, plot_format=plot_format, selection=selection,
            markers=markers, settings=settings,
        )
    finally:
        if source is not video:
            source.close()


_models: Dict[str, AestheticModel] = {}


def spots_job(job: Job, settings: Dict[str, Any]) -> Dict[str, Any]:
    """One video of a batch: the video is opened first (bad input fails before any model
    work), then the model, loaded once per process, scores it (see :mod:`vidaesthetic.batch`)."""
    options = dict(settings)
    model_options = options.pop("model")
    threads = options.pop("threads", None)
    if threads:
        torch.set_num_threads(threads)
    check_output_directory(job.out_dir)
    with open_video(job.video, backend=options.pop("backend")) as source:
        key = settings_digest(model_options)
        if key not in _models:
            _models[key] = load_model(**model_options)
        return extract_spots(source, job.out_dir, _models[key], settings=settings_digest(settings), **options)
