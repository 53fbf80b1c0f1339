"""The whole road for one video: score (or reuse saved scores), smooth, pick spots, export."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Dict, Optional, Set, Union

import numpy as np
import torch

from ._internal.atomic import check_output_directory
from .curve.fast import score_video_fast
from .curve.record import ScoreCurve
from .curve.scoring import embed_frames, score_video
from .curve.smoothing import smooth
from .curve.spots import Selection, automatic_count, choose_spots, find_spots, selection_parameters
from .errors import PathLike
from .models import AestheticModel, load_model
from .models.baseline import BaselineModel
from .output.folder import SCORES_FILE, save_spots
from .settings import Job, SpotSettings
from .video import Sampling, VideoSource, open_video

CANDIDATE_POOL = 3
"""Candidates embedded per spot wanted, for the near-duplicate check."""
EMBEDDINGS_PER_SPOT = 10
"""Frames embedded per spot wanted, at most, before spots chosen without an embedding are kept unchecked."""


def extract_spots(
    video: Union[PathLike, VideoSource],
    out_dir: PathLike,
    model: Optional[AestheticModel] = None,
    settings: SpotSettings = SpotSettings(),
) -> Dict[str, Any]:
    """Find a video's best spots and write them with their record and plot to ``out_dir``.

    ``model`` defaults to the one ``settings`` names. Scores saved in
    ``out_dir`` by an earlier run are reused when they came from the same
    file, model and sampling. Fast mode (``settings.fast``, or by default a
    learned model on a CPU, see :func:`fast_by_default`) scores densely only
    around the best candidates (see :mod:`vidaesthetic.curve.fast`; the
    sampling is then not used); the candidates' embeddings for the
    near-duplicate check are computed here. ``spots.json`` records ``settings.digest()``, by
    which a batch tells a video already done. Returns the ``spots.json`` document.
    """
    s = settings
    source = video if isinstance(video, VideoSource) else open_video(video, backend=s.backend)
    try:
        model = model if model is not None else load_model(**s.model_options())
        if s.fast or (s.fast is None and fast_by_default(model, s)):
            curve = score_video_fast(source, model, top=s.top, time_constant=s.time_constant, min_gap=s.min_gap,
                                     min_prominence=s.min_prominence, per_shot=s.per_shot,
                                     batch_size=s.batch_size, progress=s.progress)
            curve.sampling["chosen"] = "asked" if s.fast else "by default"
        else:
            curve = score_video(source, model, sampling=s.sampling, batch_size=s.batch_size,
                                cache=Path(out_dir) / SCORES_FILE, progress=s.progress)
        curve = smooth(curve, s.time_constant, method=s.smoothing)
        options = {"top": s.top, "min_gap": s.min_gap, "min_prominence": s.min_prominence, "per_shot": s.per_shot}
        if s.max_similarity is None:
            chosen = choose_spots(curve, **options, max_similarity=None)
        else:
            chosen = _distinct_spots(curve, source, model, options, s.max_similarity)
        selection = selection_parameters(curve, s.top, s.min_gap, s.min_prominence, s.per_shot, s.max_similarity,
                                         chosen)
        curve.embeddings = None  # fast mode's served the near-duplicate check; the record keeps scores only
        return save_spots(
            source, curve, chosen.spots, out_dir, image_format=s.image_format, plot_format=s.plot_format,
            selection=selection, markers=s.markers, settings=s.digest(), report=s.report,
        )
    finally:
        if source is not video:
            source.close()


def fast_by_default(model: AestheticModel, settings: SpotSettings) -> bool:
    """Whether a run that does not choose gets fast mode: a learned model on a CPU, which scores a
    few dozen frames a second where decoding gives hundreds, unless a sampling was asked for."""
    return not isinstance(model, BaselineModel) and model.device.type == "cpu" and settings.sampling == Sampling()


def _distinct_spots(curve: ScoreCurve, source: VideoSource, model: AestheticModel, options: Dict[str, Any],
                    max_similarity: float) -> Selection:
    """Spots checked against each other for near-duplicates by their embeddings: those the curve kept
    (fast mode's, around its candidates) or else a pool of candidates embedded together, then any spot
    chosen without an embedding, until every spot has one or ``EMBEDDINGS_PER_SPOT`` frames per spot
    wanted have been decoded again to embed them."""
    wanted = options["top"] or automatic_count(curve, options["per_shot"])
    embeddings = _kept_embeddings(curve)
    tried: Set[int] = set()
    to_embed = [] if embeddings else find_spots(curve, **{**options, "top": CANDIDATE_POOL * wanted})
    while True:
        by_time = embed_frames(source, model, [spot.time for spot in to_embed])
        embeddings.update({spot.frame_index: by_time[spot.time] for spot in to_embed if spot.time in by_time})
        tried.update(spot.frame_index for spot in to_embed)
        chosen = choose_spots(curve, **options, embeddings=embeddings, max_similarity=max_similarity)
        to_embed = [spot for spot in chosen.spots if spot.frame_index not in tried | set(embeddings)]
        if not to_embed or len(tried) >= EMBEDDINGS_PER_SPOT * wanted:
            return chosen


def _kept_embeddings(curve: ScoreCurve) -> Dict[int, np.ndarray]:
    if curve.embeddings is None:
        return {}
    kept = np.flatnonzero(np.isfinite(curve.embeddings).all(axis=1))
    return {int(curve.indices[row]): curve.embeddings[row].astype(np.float32) for row in kept}


_shared_model = functools.lru_cache(maxsize=None)(load_model)
"""A batch worker loads each model once and keeps it for the videos that follow."""


def spots_job(job: Job, settings: SpotSettings) -> Dict[str, Any]:
    """One video of a batch (see :func:`vidaesthetic.batch.run_jobs`): the video is opened first, so
    that bad input fails before any model work, then the process's model for ``settings`` scores it."""
    if settings.threads:
        torch.set_num_threads(settings.threads)
    check_output_directory(job.out_dir)
    with open_video(job.video, backend=settings.backend) as source:
        return extract_spots(source, job.out_dir, _shared_model(**settings.model_options()), settings)
