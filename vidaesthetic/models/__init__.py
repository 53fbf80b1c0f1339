"""Aesthetic models: the interface, the registry, the built-in baseline, the paper's ResNet, and ``load_model``.

Each model registers itself in its own module with :func:`register_model`,
and every module of this package is imported here: adding a model is adding
one file to this folder (or, outside the package, importing the module that
registers it).
"""

import importlib
import pkgutil

from .base import AestheticModel
from .baseline import BaselineModel
from .registry import DEFAULT_MODEL, cache_dir, fetch_release, import_release, installed_weights, load_model
from .slim_resnet import AestheticResNet
from .spec import ModelSpec, Release, available_models, model_spec, register_model
from .weights import load_weights, read_metadata, save_weights

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
del _module

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
