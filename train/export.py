"""``python -m train export``: a training checkpoint -> a weights file vidaesthetic loads."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from vidaesthetic.models import save_weights

from . import checkpoint
from .fit import FitConfig, build_model


def export(run_or_checkpoint: Path, destination: Path, evaluation: Optional[dict] = None) -> str:
    """Write the checkpoint's model as safetensors with its provenance; returns the weights id."""
    saved = checkpoint.load(run_or_checkpoint)
    config = FitConfig(**saved["config"])
    model = build_model(config)
    model.load_state_dict(saved["model"])
    provenance = {
        "source": "vidaesthetic train/",
        "data": config.data,
        "init": saved["init"],
        "steps": saved["step"],
        "loss": saved["metrics"].get("loss"),
        "config": saved["config"],
        "metrics": saved["metrics"],
        "evaluation": evaluation or {},
    }
    return save_weights(model.eval(), destination, provenance)
