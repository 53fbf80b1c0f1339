"""Aesthetic models: the interface, the built-in baseline, the paper's ResNet, and ``load_model``."""

from .base import AestheticModel
from .baseline import BaselineModel
from .registry import (
    DEFAULT_MODEL, MODELS, cache_dir, fetch_release, import_release, installed_weights, load_model,
)
from .slim_resnet import AestheticResNet
from .weights import load_weights, read_metadata, save_weights


def available_models() -> list:
    """Names that :func:`load_model` accepts."""
    return list(MODELS)


__all__ = [
    "AestheticModel",
    "AestheticResNet",
    "BaselineModel",
    "DEFAULT_MODEL",
    "available_models",
    "cache_dir",
    "fetch_release",
    "import_release",
    "installed_weights",
    "load_model",
    "load_weights",
    "read_metadata",
    "save_weights",
]
