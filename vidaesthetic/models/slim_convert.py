"""Map TF-slim ``resnet_v1`` variables to :class:`ResNetV1` parameters.

The mapping is purely by name (module names mirror slim scopes, see
:mod:`vidaesthetic.models.slim_resnet`) plus one layout change: slim conv
kernels are HWIO, PyTorch's are OIHW. Loading is strict: every model variable
of the checkpoint must be used exactly once and match the expected shape, so a
checkpoint of another architecture fails loudly instead of loading half-way.
"""

from __future__ import annotations

import logging
import re
from typing import Dict, List, Mapping, Optional, Tuple

import numpy as np
import torch

from ..errors import ModelError
from .slim_resnet import LAYOUTS, ResNetV1

log = logging.getLogger(__name__)

_BATCH_NORM = {"weight": "gamma", "bias": "beta",
               "running_mean": "moving_mean", "running_var": "moving_variance"}
_CONV = {"weight": "weights", "bias": "biases"}
_OPTIMIZER_STATE = re.compile(r"(^|/)global_step$|/(Momentum|Adam|Adam_1|RMSProp|RMSProp_1)$")
"""Training-only variables a checkpoint may carry next to the model."""


def slim_name(key: str, scope: str, unit_scope: str) -> Optional[str]:
    """The slim variable behind a :class:`ResNetV1` state-dict key.

    ``None`` for PyTorch-only buffers (``num_batches_tracked``).
    """
    parts = key.split(".")
    if parts[-1] == "num_batches_tracked":
        return None
    if parts[0].startswith("block"):
        parts[1:2] = [f"unit_{int(parts[1]) + 1}", unit_scope]
    if len(parts) >= 2 and parts[-2] == "bn":
        parts[-2:] = ["BatchNorm", _BATCH_NORM[parts[-1]]]
    else:
        parts[-1] = _CONV[parts[-1]]
    return "/".join([scope, *parts])


def depth_of(scope: str) -> int:
    """The depth in a slim scope such as ``resnet_v1_50``."""
    match = re.fullmatch(r"resnet_v1_(\d+)", scope)
    if not match or int(match.group(1)) not in LAYOUTS:
        raise ModelError(f"unsupported model scope {scope!r}; expected resnet_v1_<depth> "
                         f"with depth in {sorted(LAYOUTS)}")
    return int(match.group(1))


def state_dict_from_slim(variables: Mapping[str, np.ndarray],
                         scope: str = "resnet_v1_50") -> Dict[str, torch.Tensor]:
    """A :class:`ResNetV1` state dict from slim variables (name -> array).

    Width and embedding size are read from ``conv1`` and ``logits``. Optimizer
    slots and ``global_step`` are skipped (logged); anything else that is
    missing, unexpected or of the wrong shape raises :class:`ModelError`.
    Arrays keep their dtype; ``load_state_dict`` casts them.
    """
    depth = depth_of(scope)
    width, num_outputs = network_size(variables, scope)
    with torch.device("meta"):
        expected = ResNetV1(depth, width, num_outputs).state_dict()
    unit_scope = LAYOUTS[depth][0].scope

    state: Dict[str, torch.Tensor] = {}
    used: set = set()
    missing: List[str] = []
    wrong_shape: List[str] = []
    for key, reference in expected.items():
        name = slim_name(key, scope, unit_scope)
        if name is None:
            state[key] = torch.zeros_like(reference, device="cpu")
            continue
        if name in used:  # two parameters mapped to one variable: a bug in the mapping
            raise ModelError(f"slim variable {name} would be used twice")
        used.add(name)
        if name not in variables:
            missing.append(name)
            continue
        tensor = _to_torch(np.asarray(variables[name]))
        if tensor.shape != reference.shape:
            wrong_shape.append(f"{name} {list(np.shape(variables[name]))} "
                               f"(expected {list(_slim_shape(reference.shape))})")
            continue
        state[key] = tensor

    ignored = sorted(name for name in variables if name not in used and _OPTIMIZER_STATE.search(name))
    unexpected = sorted(set(variables) - used - set(ignored))
    if missing or unexpected or wrong_shape:
        raise ModelError(f"variables do not match {scope} (width {width:g}, "
                         f"{num_outputs} outputs): " + "; ".join(
                             _listing(title, names) for title, names in
                             (("missing", missing), ("unexpected", unexpected),
                              ("wrong shape", wrong_shape)) if names))
    if ignored:
        log.info("ignored %d non-model variables: %s", len(ignored), ", ".join(ignored))
    return state


def network_size(variables: Mapping[str, np.ndarray], scope: str) -> Tuple[float, int]:
    """Width multiplier (from ``conv1``) and output count (from ``logits``)."""
    conv1, biases = f"{scope}/conv1/weights", f"{scope}/logits/biases"
    for name in (conv1, biases):
        if name not in variables:
            raise ModelError(f"variable {name} not found; is this a {scope} checkpoint?")
    conv1_shape, biases_shape = np.shape(variables[conv1]), np.shape(variables[biases])
    if len(conv1_shape) != 4 or len(biases_shape) != 1:
        raise ModelError(f"unexpected shapes {list(conv1_shape)} of {conv1} "
                         f"and {list(biases_shape)} of {biases}")
    return conv1_shape[3] / 64, biases_shape[0]


def _to_torch(array: np.ndarray) -> torch.Tensor:
    """A copy of a slim array in PyTorch layout (conv kernels HWIO -> OIHW)."""
    return torch.tensor(array.transpose(3, 2, 0, 1) if array.ndim == 4 else array)


def _slim_shape(shape: torch.Size) -> Tuple[int, ...]:
    return (shape[2], shape[3], shape[1], shape[0]) if len(shape) == 4 else tuple(shape)


def _listing(title: str, names: List[str], limit: int = 5) -> str:
    more = f", ... ({len(names) - limit} more)" if len(names) > limit else ""
    return f"{title} {len(names)}: " + ", ".join(names[:limit]) + more
