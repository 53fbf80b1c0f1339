"""Resolving a model name or weights file to a ready model, and the weights cache.

Models are looked up in the registry (:mod:`vidaesthetic.models.spec`).
``load_model`` looks for a learned model's weights in the order its spec
gives: an explicit path, its environment variable (``VIDAESTHETIC_WEIGHTS``
for the paper's model), the user cache, a download of its release
(converted once into the cache). With none of these, the default model falls
back to the built-in ``baseline`` and says so in one line.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import List, Optional

import torch

from .._internal.atomic import make_writable_directory
from .._internal.devices import cpu_has_native_bf16, resolve_device
from .._internal.locks import folder_lock
from ..errors import InputError, ModelError, PathLike, VidaestheticError
from . import release
from .base import RESIZES, AestheticModel
from . import int8
from .slim_resnet import PAPER_MODEL, AestheticResNet
from .spec import MODELS, ModelSpec, model_spec  # noqa: F401  (MODELS: the CLI's --model choices)
from .weights import load_weights

log = logging.getLogger("vidaesthetic")

DEFAULT_MODEL = PAPER_MODEL
FALLBACK_MODEL = "baseline"
"""What the default model falls back to when its weights cannot be found."""
CACHE_ENVIRONMENT = "VIDAESTHETIC_CACHE"
OFFLINE_ENVIRONMENT = "VIDAESTHETIC_OFFLINE"
PRECISIONS = {"auto": None, "fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16, "int8": None}

GET_LEARNED_MODEL = "run `vidaesthetic weights fetch` (or `weights import` for files you have) to install the paper's model"


def cache_dir() -> Path:
    """``VIDAESTHETIC_CACHE``, else ``$XDG_CACHE_HOME/vidaesthetic``, else ``~/.cache/vidaesthetic``."""
    if os.environ.get(CACHE_ENVIRONMENT):
        return Path(os.environ[CACHE_ENVIRONMENT]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "vidaesthetic"


def cached_weights_path(name: str = DEFAULT_MODEL) -> Path:
    return cache_dir() / model_spec(name).cache_file


def installed_weights() -> List[Path]:
    """Weights files in the cache."""
    folder = cache_dir()
    return sorted(folder.glob("*.safetensors")) if folder.is_dir() else []


def _offline() -> bool:
    return os.environ.get(OFFLINE_ENVIRONMENT, "").lower() not in ("", "0", "false", "no")


def fetch_release(force: bool = False, progress: Optional[bool] = None) -> Path:
    """Download, verify and convert the authors' release into the cache; returns the weights file.

    Downloads resume after an interruption; only verified files are converted,
    and the weights file appears only once conversion has succeeded.
    """
    destination = cached_weights_path()
    if destination.is_file() and not force:
        return destination
    folder = cache_dir() / "downloads" / release.COMMIT[:12]
    _writable(folder)
    with folder_lock(folder):  # a second fetch waits, then finds the weights there
        if destination.is_file() and not force:
            return destination
        return _fetch_into(folder, destination, progress)


def _fetch_into(folder: Path, destination: Path, progress: Optional[bool]) -> Path:
    from .._internal.download import download

    for name, expected in release.FILES.items():
        download(release.base_url() + name, folder / name, git_blob=expected.git_blob, size=expected.size,
                 progress=progress)
    release.convert_checkpoint(
        folder / "ae_model", destination, folder / release.MEAN, release.release_provenance(folder, verified=True),
        authors_weights=True,
    )
    shutil.rmtree(folder, ignore_errors=True)
    return destination


def import_release(location: PathLike, mean_image: Optional[PathLike] = None, channel_mean: bool = False) -> Path:
    """Convert a checkpoint the user already has (folder, prefix or ``.index``) into the cache.

    Files that match the authors' release are recorded as such; other
    ``resnet_v1_50`` checkpoints are converted too, recorded as the user's own.
    The authors' weights without their mean image are refused unless
    ``channel_mean`` accepts the channel means (see :func:`release.convert_checkpoint`).
    """
    from .._internal.download import git_blob_sha1

    prefix = release.checkpoint_prefix(location)
    folder = prefix.parent
    mean = Path(mean_image) if mean_image else folder / release.MEAN
    authors_weights = release.is_authors_checkpoint(prefix)
    verified = authors_weights and mean.is_file() and git_blob_sha1(mean) == release.FILES[release.MEAN].git_blob
    destination = cached_weights_path()
    _writable(destination.parent)
    release.convert_checkpoint(prefix, destination, mean, release.release_provenance(folder, verified),
                               authors_weights=authors_weights, channel_mean=channel_mean)
    return destination


def _writable(folder: Path) -> None:
    make_writable_directory(folder, "weights cache", f"set {CACHE_ENVIRONMENT} to another folder")


def _find_weights(spec: ModelSpec, explicit: bool) -> Optional[Path]:
    """Weights of a learned model from its environment variable, the cache or a download of its release."""
    if spec.environment and os.environ.get(spec.environment):
        path = Path(os.environ[spec.environment]).expanduser()
        if not path.is_file():
            raise ModelError(f"{spec.environment} names a missing file", path)
        return path
    cached = cache_dir() / spec.cache_file
    if cached.is_file():
        return cached
    if spec.release is None or _offline():
        return None
    log.info("downloading %s once into %s", spec.release.description, cache_dir())
    try:
        return spec.release.fetch()
    except VidaestheticError as error:
        if explicit:
            raise
        log.debug("download failed: %s", error)
        return None


def load_model(
    name: Optional[str] = None,
    *,
    weights: Optional[PathLike] = None,
    device: "str | torch.device" = "auto",
    precision: str = "auto",
    compile: bool = False,
    resize: str = "direct",
) -> AestheticModel:
    """A ready model in eval mode on ``device``.

    Args:
        name: a registered model (see :func:`available_models`), or None for
            the paper's learned model when its weights can be found (else the
            baseline, with a notice).
        weights: a weights file (safetensors) to load; overrides the search.
            With no ``name``, the file's own architecture decides the model.
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` or a torch device.
        precision: ``"auto"`` (bfloat16 autocast on CUDA, and for the paper's
            ResNet on CPUs that compute bfloat16 in hardware; float32 elsewhere),
            ``"fp32"`` (exact agreement with the authors), ``"bf16"``,
            ``"fp16"``, or ``"int8"`` (the paper's ResNet on a CPU, with the
            ``int8`` extra installed; see :mod:`vidaesthetic.models.int8`).
        compile: compile the network with ``torch.compile`` (faster once warm;
            the first batch takes tens of seconds).
        resize: ``"direct"`` (each frame resized straight to the network's
            input, antialiased) or ``"authors"`` (the paper's ResNet only: as
            the authors' demo did, for scores comparable with theirs; see
            :meth:`AestheticResNet.embed`).
    """
    spec = model_spec(name or DEFAULT_MODEL)
    if precision not in PRECISIONS:
        raise InputError(f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}")
    if resize not in RESIZES:
        raise InputError(f"unknown resize {resize!r}; use one of {', '.join(RESIZES)}")
    target = resolve_device(device)
    if not spec.learned:
        if weights is not None:
            raise InputError(f"the {spec.name} model takes no weights file")
        if resize != "direct":
            raise InputError(f"--resize authors is the paper's ResNet preprocessing, not the {spec.name} model's")
        return spec.constructor().to(target).eval()
    path = Path(weights) if weights is not None else _find_weights(spec, explicit=name is not None)
    if path is None:
        if name is not None:
            how = f"{GET_LEARNED_MODEL}, or pass --weights FILE" if spec.release else "pass --weights FILE"
            raise ModelError(f"no weights for {name}: {how}")
        if resize != "direct":
            raise ModelError(f"--resize authors needs the paper's learned model, which is not installed: "
                             f"{GET_LEARNED_MODEL}")
        log.info("scoring with the built-in baseline model, not the paper's learned model (not installed%s): %s",
                 "" if _offline() else ", and it could not be downloaded", GET_LEARNED_MODEL)
        return model_spec(FALLBACK_MODEL).constructor().to(target).eval()
    model = load_weights(path)
    if name is not None and model.architecture != spec.architecture:
        raise ModelError(f"holds {model.architecture} weights, not the {name} model's {spec.architecture}", path)
    if resize == "authors" and not isinstance(model, AestheticResNet):
        raise InputError(f"--resize authors is the paper's ResNet preprocessing, not {model.name}'s")
    model.resize = resize
    return _accelerate(model, target, precision, compile)


def _accelerate(model: AestheticModel, device: torch.device, precision: str, compile: bool) -> AestheticModel:
    """Place the model for speed: channels-last memory, and the precision asked for or chosen for the device."""
    model = model.to(device=device, memory_format=torch.channels_last).eval()
    if precision == "int8":
        return _quantized(model, device)
    chosen = _auto_precision(model, device) if precision == "auto" else PRECISIONS[precision]
    if precision == "fp32" and device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False  # exact agreement with the reference port
        torch.backends.cudnn.allow_tf32 = False
    model.precision = chosen
    if compile:
        for name, network in model.named_children():
            setattr(model, name, torch.compile(network))
    return model


def _auto_precision(model: AestheticModel, device: torch.device) -> Optional[torch.dtype]:
    """bfloat16 on CUDA, and for the paper's ResNet on a CPU that computes it in hardware; else float32 (None).

    On a CPU bf16 is chosen only where it was shown to rank frames as float32
    does: the seeded ResNet-50's scores over every frame of each fixture clip
    agree to Spearman 0.994 at worst (tests/test_precision.py). int8 stays a
    choice (0.987 at worst), never the default.
    """
    if device.type == "cuda":
        return torch.bfloat16
    return torch.bfloat16 if isinstance(model, AestheticResNet) and cpu_has_native_bf16() else None


def _quantized(model: AestheticModel, device: torch.device) -> AestheticModel:
    if device.type != "cpu" or not isinstance(model, AestheticResNet):
        raise InputError(f"int8 runs the paper's ResNet on a CPU only, not {model.name} on {device.type}")
    if not int8.available():
        raise InputError("int8 needs ONNX Runtime: pip install 'vidaesthetic[int8]'")
    cache = int8.cache_file(cache_dir(), model.weights_id, model.input_size)
    model.net = int8.Int8Network(model.net, model.input_size, cache)
    model.quantized = True
    return model
