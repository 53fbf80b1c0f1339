"""A score curve on disk: ``scores.json``, so that spots and plots can be redone without decoding again,
and ``scores.csv``, one row per frame for spreadsheets and other tools.

The JSON is :meth:`ScoreCurve.to_dict` (:meth:`ScoreCurve.load` reads it
back) with the embeddings, when the curve has them, in an NPZ beside it.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from .._internal.atomic import OutputSet
from ..curve.record import ScoreCurve
from ..errors import PathLike


def write_scores(curve: ScoreCurve, outputs: OutputSet, name: str) -> None:
    """Write ``curve`` under ``name`` in an :class:`OutputSet` (embeddings beside it as ``<stem>.npz``)."""
    document = curve.to_dict()
    if curve.embeddings is not None:
        npz_name = Path(name).with_suffix(".npz").name
        with open(outputs.reserve(npz_name), "wb") as handle:
            np.savez_compressed(handle, embeddings=curve.embeddings)
        document["embeddings_file"] = npz_name
    with open(outputs.reserve(name), "w", encoding="utf-8") as handle:
        json.dump(document, handle)


def save_scores(curve: ScoreCurve, path: PathLike) -> None:
    """Write ``curve`` to ``path`` on its own, atomically."""
    path = Path(path)
    with OutputSet(path.parent) as outputs:
        write_scores(curve, outputs, path.name)


def write_scores_csv(curve: ScoreCurve, path: PathLike) -> None:
    """Write ``frame,time,raw,smoothed,pickable,reason``, a row per scored frame, to ``path``."""
    smoothed = curve.smoothed if curve.smoothed is not None else np.full(len(curve), np.nan)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["frame", "time", "raw", "smoothed", "pickable", "reason"])
        columns = (curve.indices.tolist(), curve.times.tolist(), curve.raw.tolist(), smoothed.tolist(),
                   curve.pickable.tolist(), curve.reasons.tolist())
        for frame, time, raw, smooth, pickable, reason in zip(*columns):
            writer.writerow([frame, f"{time:.6f}", f"{raw:.9g}", f"{smooth:.9g}", int(pickable), reason])


def save_scores_csv(curve: ScoreCurve, path: PathLike) -> None:
    """Write the CSV of ``curve`` to ``path`` on its own, atomically."""
    path = Path(path)
    with OutputSet(path.parent) as outputs:
        write_scores_csv(curve, outputs.reserve(path.name))
