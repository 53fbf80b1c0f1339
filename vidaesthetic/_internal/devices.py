"""Choosing the torch device a model runs on."""

from __future__ import annotations

import torch

from ..errors import InputError


def resolve_device(device: "str | torch.device" = "auto") -> torch.device:
    """``"auto"`` picks CUDA when it is usable, else the CPU; an unusable explicit choice is an error."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        chosen = torch.device(device)
    except RuntimeError:
        raise InputError(f"unknown device {device!r}; use auto, cpu or cuda") from None
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise InputError("CUDA was asked for but no usable CUDA device is present; use --device cpu")
    return chosen


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 in hardware (AVX-512 BF16 or AMX), where bf16 autocast halves the
    time of a float32 network; elsewhere it is emulated and slower than float32."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # private, so looked up with care
    return any(getattr(torch.cpu, check, lambda: False)() for check in checks)
