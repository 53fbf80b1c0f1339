"""The model registry: each model name maps to a :class:`ModelSpec`.

A model registers itself where it is defined, with :func:`register_model` as
a class decorator; :func:`~vidaesthetic.models.load_model` and
:func:`~vidaesthetic.models.load_weights` only consult this table, so adding a
model is one module (a file in ``vidaesthetic/models/``, which the package
imports, or any module its user imports) and no edit anywhere else::

    @register_model("my-student", environment="MY_STUDENT_WEIGHTS")
    class Student(AestheticModel):
        architecture = "my-student-v1"   # recorded in its weights files
        input_size, embedding_dim = (160, 160), 128

        def weights_config(self): ...    # constructor arguments its weights files record
        def embed(self, frames): ...

    load_model("my-student", weights="student.safetensors")
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple, TypeVar

from ..errors import ModelError
from .base import AestheticModel


@dataclass(frozen=True)
class Release:
    """Published weights: downloaded, verified by checksum and converted into the cache on first use."""

    fetch: Callable[[], Path]
    """Fetches into the cache and returns the weights file; the URL, checksums and converter live behind it."""
    description: str
    """What is downloaded, for the one-line notice, e.g. ``"the authors' model (98 MiB)"``."""


@dataclass(frozen=True)
class ModelSpec:
    """What a model is and where its weights come from, readable before anything is loaded.

    Weights are looked for in this order: an explicit file, the environment
    variable :attr:`environment`, :attr:`cache_file` in the user cache, a
    download of :attr:`release`. A spec without :attr:`architecture` is
    training-free: it is built by calling :attr:`constructor` with no arguments.
    """

    name: str
    constructor: Callable[..., AestheticModel]
    """Builds the model; weights files pass it their recorded configuration as keyword arguments."""
    architecture: Optional[str]
    """Id of the network in weights files (their ``architecture`` metadata); None: takes no weights."""
    input_size: Tuple[int, int]
    """(height, width) the frames should be decoded at."""
    embedding_dim: int
    mean: Tuple[float, float, float] = (0.0, 0.0, 0.0)
    """RGB channel means subtracted from 0..255 pixels, where the weights carry no mean image of their own."""
    colour_order: str = "RGB"
    """Channel order the published weights were made in (e.g. their mean image); converters reorder it to RGB,
    the order in which frames arrive."""
    environment: Optional[str] = None
    """Environment variable that may name a weights file for this model."""
    release: Optional[Release] = None

    @property
    def learned(self) -> bool:
        """Whether the model needs a weights file."""
        return self.architecture is not None

    @property
    def cache_file(self) -> str:
        """Name of this model's weights file in the user cache."""
        return f"{self.name}.safetensors"


MODELS: Dict[str, ModelSpec] = {}
"""Every registered model by name, in registration order; add to it with :func:`register_model`."""

Factory = TypeVar("Factory", bound=Callable[..., AestheticModel])


def register_model(name: str, **fields: object) -> Callable[[Factory], Factory]:
    """Decorator for a model class (or a function that builds one): register it as model ``name``.

    ``fields`` are the other :class:`ModelSpec` fields; ``input_size``,
    ``embedding_dim`` and ``architecture`` default to the class attributes of
    those names. Registering a name twice with different specs is an error,
    and so is a second constructor for an architecture: weights files must
    say unambiguously what to build.
    """

    def register(factory: Factory) -> Factory:
        defaults = {key: getattr(factory, key) for key in ("input_size", "embedding_dim", "architecture")
                    if hasattr(factory, key)}
        spec = ModelSpec(name=name, constructor=factory, **{**defaults, **fields})  # type: ignore[arg-type]
        if MODELS.get(name, spec) != spec:
            raise ValueError(f"model {name!r} is already registered differently")
        other = spec_for_architecture(spec.architecture)
        if spec.learned and other is not None and other.constructor is not factory:
            raise ValueError(f"architecture {spec.architecture!r} is already built by model {other.name!r}")
        MODELS[name] = spec
        return factory

    return register


def available_models() -> List[str]:
    """Names that :func:`~vidaesthetic.models.load_model` accepts."""
    return list(MODELS)


def model_spec(name: str) -> ModelSpec:
    """The spec registered as ``name``; ModelError naming the available ones otherwise."""
    if name not in MODELS:
        raise ModelError(f"unknown model {name!r}; available: {', '.join(MODELS)}")
    return MODELS[name]


def spec_for_architecture(architecture: Optional[str]) -> Optional[ModelSpec]:
    """The first registered model built from weights of ``architecture`` (all share its constructor)."""
    return next((spec for spec in MODELS.values() if spec.learned and spec.architecture == architecture), None)
