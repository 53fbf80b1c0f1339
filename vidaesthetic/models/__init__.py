"""Aesthetic models: the interface, the registry, the built-in baseline, the paper's ResNet, and ``load_model``.

Each model registers itself in its own module with :func:`register_model`;
importing the module is all it takes for :func:`load_model` to know it.
"""

from .base import AestheticModel
from .baseline import BaselineModel
from .registry import DEFAULT_MODEL, cache_dir, fetch_release, import_release, installed_weights, load_model
from .slim_resnet import AestheticResNet
from .spec import ModelSpec, Release, available_models, model_spec, register_model
from .weights import load_weights, read_metadata, save_weights

__all__ = [
    "AestheticModel",
    "AestheticResNet",
    "BaselineModel",
    "DEFAULT_MODEL",
    "ModelSpec",
    "Release",
    "available_models",
    "cache_dir",
    "fetch_release",
    "import_release",
    "installed_weights",
    "load_model",
    "load_weights",
    "model_spec",
    "read_metadata",
    "register_model",
    "save_weights",
]
