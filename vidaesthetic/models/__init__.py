"""Aesthetic models: the interface, the built-in baseline, and ``load_model``."""

from __future__ import annotations

from typing import Callable, Dict, List, Optional

import torch

from ..devices import resolve_device
from ..errors import ModelError
from .base import AestheticModel
from .baseline import BaselineModel

# registry name -> factory of an untrained/builtin instance
_REGISTRY: Dict[str, Callable[[], AestheticModel]] = {"baseline": BaselineModel}


def available_models() -> List[str]:
    """Names that :func:`load_model` accepts."""
    return sorted(_REGISTRY)


def load_model(name: Optional[str] = None, device: "str | torch.device" = "auto") -> AestheticModel:
    """A ready-to-run model in eval mode on ``device``.

    Args:
        name: a registry name (see :func:`available_models`); None picks the default.
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` or a torch device.
    """
    key = name or "baseline"
    if key not in _REGISTRY:
        raise ModelError(f"unknown model {key!r}; available: {', '.join(available_models())}")
    model = _REGISTRY[key]()
    return model.to(resolve_device(device)).eval()


__all__ = ["AestheticModel", "BaselineModel", "available_models", "load_model"]
