"""Weights files: safetensors with the metadata needed to rebuild the model.

safetensors holds only tensors and string metadata, so loading a weights file
can never run code (unlike a pickled checkpoint). The metadata says which
network to build (architecture, depth, width, input and embedding size) and
where the weights came from; ``weights_id`` is a hash of the tensors, recorded
in every output so that scores can be traced to the exact weights.
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
from .slim_resnet import AestheticResNet

FORMAT = "vidaesthetic.weights"
FORMAT_VERSION = "1"
ARCHITECTURE = "tf-slim-resnet_v1"
MEAN_KEY = "mean"
NET_PREFIX = "net."


def content_hash(tensors: Mapping[str, torch.Tensor]) -> str:
    """A short SHA-256 of names, shapes, dtypes and bytes of every tensor, independent of file layout."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].detach().to("cpu").contiguous()
        digest.update(f"{name}|{tensor.dtype}|{list(tensor.shape)}|".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return digest.hexdigest()[:16]


def _tensors(model: AestheticResNet) -> Dict[str, torch.Tensor]:
    state = {
        NET_PREFIX + key: value.detach().to("cpu", torch.float32).contiguous()
        for key, value in model.net.state_dict().items()
        if not key.endswith("num_batches_tracked")
    }
    state[MEAN_KEY] = model.mean.detach().to("cpu", torch.float32).contiguous()
    return state


def save_weights(model: AestheticResNet, path: PathLike, provenance: Optional[Dict[str, Any]] = None) -> str:
    """Write ``model`` as a safetensors weights file (atomically); returns its ``weights_id``."""
    tensors = _tensors(model)
    weights_id = content_hash(tensors)
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "name": model.name,
        "architecture": ARCHITECTURE,
        "depth": str(model.net.depth),
        "width": repr(float(model.net.width)),
        "input_size": json.dumps(list(model.input_size)),
        "embedding_dim": str(model.embedding_dim),
        "weights_id": weights_id,
        "provenance": json.dumps(provenance or {}),
    }
    path = Path(path)
    with OutputSet(path.parent) as outputs:
        save_file(tensors, str(outputs.reserve(path.name)), metadata=metadata)
    return weights_id


def read_metadata(path: PathLike) -> Dict[str, Any]:
    """The metadata of a weights file, with JSON fields decoded."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = dict(handle.metadata() or {})
    except FileNotFoundError:
        raise ModelError("no such weights file", path) from None
    except (SafetensorError, OSError, ValueError) as error:
        raise ModelError(f"not a safetensors weights file ({error})", path) from None
    if metadata.get("format") != FORMAT:
        raise ModelError("not a vidaesthetic weights file (no vidaesthetic metadata)", path)
    for key in ("input_size", "provenance"):
        metadata[key] = json.loads(metadata.get(key, "null"))
    return metadata


def load_weights(path: PathLike) -> AestheticResNet:
    """Rebuild the model a weights file describes, on the CPU, in eval mode.

    Raises ModelError for a file that is not a vidaesthetic weights file, a
    network of an unknown shape, or tensors that do not match it or its hash.
    """
    metadata = read_metadata(path)
    if metadata.get("architecture") != ARCHITECTURE:
        raise ModelError(f"unsupported architecture {metadata.get('architecture')!r}", path)
    try:
        with safe_open(str(path), framework="pt") as handle:
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
        model = AestheticResNet(
            depth=int(metadata["depth"]),
            width=float(metadata["width"]),
            input_size=tuple(metadata["input_size"]),
            embedding_dim=int(metadata["embedding_dim"]),
            mean=tensors.pop(MEAN_KEY),
        )
    except (SafetensorError, KeyError, ValueError, TypeError) as error:
        raise ModelError(f"damaged or incomplete weights file ({error})", path) from None
    expected = metadata.get("weights_id")
    if expected and content_hash({**tensors, MEAN_KEY: model.mean}) != expected:
        raise ModelError("weights do not match their recorded hash: the file is damaged; fetch or export it again", path)
    state = {key[len(NET_PREFIX):]: value for key, value in tensors.items() if key.startswith(NET_PREFIX)}
    result = model.net.load_state_dict(state, strict=False)
    missing = [key for key in result.missing_keys if not key.endswith("num_batches_tracked")]
    if missing or result.unexpected_keys:
        raise ModelError(
            f"weights do not fit {model.name}: {len(missing)} missing, {len(result.unexpected_keys)} unexpected tensors",
            path,
        )
    model.weights_id = expected or content_hash(_tensors(model))
    return model.eval()
