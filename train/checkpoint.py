"""Training checkpoints: everything needed to continue a run exactly, written atomically.

A checkpoint holds model, optimiser, scheduler and every rank's
triplet-sampler state (the only randomness after initialisation), as plain
tensors and Python values, so it loads
with ``torch.load(weights_only=True)``: reading one never runs code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

import torch

from vidaesthetic._internal.atomic import replacing
from vidaesthetic.errors import InputError, OutputError

FORMAT = "vidaesthetic.train-checkpoint"
NAME = "checkpoint.pt"


def save(run: Path, state: Dict[str, Any]) -> Path:
    """Write ``run/checkpoint.pt`` so that a crash or a full disk never damages the previous one."""
    path = run / NAME
    try:
        with replacing(path) as temp:
            torch.save({"format": FORMAT, **state}, temp)
    except OSError as error:
        raise OutputError(f"cannot save the checkpoint ({error.strerror}); the previous one is intact", path) from None
    return path


def load(path: Path) -> Dict[str, Any]:
    """A checkpoint written by :func:`save` (a folder means its ``checkpoint.pt``)."""
    path = path / NAME if path.is_dir() else path
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise InputError("no checkpoint here", path) from None
    except Exception as error:  # unreadable, truncated or not a checkpoint
        raise InputError(f"not a readable training checkpoint ({type(error).__name__})", path) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise InputError("not a vidaesthetic training checkpoint", path)
    return state
