"""Weights files: safetensors with the metadata needed to rebuild the model.

safetensors holds only tensors and string metadata, so loading a weights file
can never run code (unlike a pickled checkpoint). The tensors are the model's
``state_dict``; the metadata names the architecture (whose registered
constructor rebuilds the network), the constructor arguments that shape it
(:meth:`~vidaesthetic.models.AestheticModel.weights_config`, one JSON value
per key) and where the weights came from. ``weights_id`` is a hash of the
tensors, recorded in every output so that scores can be traced to the exact
weights.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from .._internal.atomic import OutputSet
from ..errors import ModelError, PathLike
from .base import AestheticModel
from .spec import spec_for_architecture

FORMAT = "vidaesthetic.weights"
FORMAT_VERSION = "1"
RECORDS = ("format", "format_version", "name", "architecture", "weights_id", "provenance")
"""Metadata keys of the file itself; every other key is a constructor argument."""


def content_hash(tensors: Mapping[str, torch.Tensor]) -> str:
    """A short SHA-256 of names, shapes, dtypes and bytes of every tensor, independent of file layout."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].detach().to("cpu").contiguous()
        digest.update(f"{name}|{tensor.dtype}|{list(tensor.shape)}|".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()[:16]


def _tensors(model: AestheticModel) -> Dict[str, torch.Tensor]:
    """The state dict on the CPU, floating-point tensors as float32, without BN's step counters."""
    return {
        key: (value.float() if value.is_floating_point() else value).detach().to("cpu").contiguous()
        for key, value in model.state_dict().items()
        if not key.endswith("num_batches_tracked")
    }


def save_weights(model: AestheticModel, path: PathLike, provenance: Optional[Dict[str, Any]] = None) -> str:
    """Write a learned ``model`` as a safetensors weights file (atomically); returns its ``weights_id``."""
    if model.architecture is None:
        raise ModelError(f"the {model.name} model is training-free: it has no weights to save")
    tensors = _tensors(model)
    weights_id = content_hash(tensors)
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": model.name,
        "architecture": model.architecture,
        **{key: json.dumps(value) for key, value in model.weights_config().items()},
        "weights_id": weights_id,
        "provenance": json.dumps(provenance or {}),
    }
    path = Path(path)
    with OutputSet(path.parent) as outputs:
        save_file(tensors, str(outputs.reserve(path.name)), metadata=metadata)
    return weights_id


def _raw_metadata(path: PathLike) -> Dict[str, str]:
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = dict(handle.metadata() or {})
    except FileNotFoundError:
        raise ModelError("no such weights file", path) from None
    except (SafetensorError, OSError, ValueError) as error:
        raise ModelError(f"not a safetensors weights file ({error})", path) from None
    if metadata.get("format") != FORMAT:
        raise ModelError("not a vidaesthetic weights file (no vidaesthetic metadata)", path)
    return metadata


def read_metadata(path: PathLike) -> Dict[str, Any]:
    """The metadata of a weights file, with JSON fields decoded."""
    metadata: Dict[str, Any] = _raw_metadata(path)
    for key in ("input_size", "provenance"):
        metadata[key] = json.loads(metadata.get(key, "null"))
    return metadata


def load_weights(path: PathLike) -> AestheticModel:
    """Rebuild the model a weights file describes, on the CPU, in eval mode.

    The network is built by the constructor registered for the file's
    architecture. Raises ModelError for a file that is not a vidaesthetic
    weights file, an unknown architecture or shape, or tensors that do not
    match the network or their hash.
    """
    metadata = _raw_metadata(path)
    spec = spec_for_architecture(metadata.get("architecture"))
    if spec is None:
        raise ModelError(f"unsupported architecture {metadata.get('architecture')!r}", path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
        config = {key: json.loads(value) for key, value in metadata.items() if key not in RECORDS}
        model = spec.constructor(**config)
    except (SafetensorError, KeyError, ValueError, TypeError) as error:
        raise ModelError(f"damaged or incomplete weights file ({error})", path) from None
    expected = metadata.get("weights_id")
    if expected and content_hash(tensors) != expected:
        raise ModelError("weights do not match their recorded hash: the file is damaged; fetch or export it again", path)
    try:
        result = model.load_state_dict(tensors, strict=False)
    except RuntimeError as error:  # a tensor of the wrong shape
        raise ModelError(f"weights do not fit {model.name}: {str(error).splitlines()[-1].strip()}", path) from None
    missing = [key for key in result.missing_keys if not key.endswith("num_batches_tracked")]
    if missing or result.unexpected_keys:
        raise ModelError(
            f"weights do not fit {model.name}: {len(missing)} missing, {len(result.unexpected_keys)} unexpected tensors",
            path,
        )
    model.weights_id = expected or content_hash(_tensors(model))
    return model.eval()
