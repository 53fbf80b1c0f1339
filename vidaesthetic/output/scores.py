"""``scores.json``: a score curve on disk, so that spots and plots can be redone without decoding again.

The curve is JSON (see :meth:`ScoreCurve.to_dict`; :meth:`ScoreCurve.load`
reads it back) with its embeddings, when it has them, in an NPZ beside it.
"""

from __future__ import annotations

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
