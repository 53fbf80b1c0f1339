"""int8 inference of the paper's ResNet on a CPU, through ONNX Runtime.

Chosen by measurement on a 2-core AVX-512 machine with VNNI and bf16
(ResNet-50 at 224 x 224, batch 16, seeded weights, the machine otherwise
busy): PyTorch float32 7.7 images/s, ONNX Runtime float32 15.4, PyTorch's
own int8 (FX graph mode, deprecated) 28.6, ONNX Runtime int8 42.6, with a
Spearman correlation of 0.9999 between the int8 and float32 scores.

The network is rebuilt with batch norm folded into its convolutions,
exported to ONNX and quantized statically (int8 weights per channel, uint8
activations) with activation ranges taken from video frames: the first batch
of at least ``MIN_CALIBRATION_FRAMES`` frames it is given (up to
``CALIBRATION_FRAMES`` of them), which it then scores in int8 like every
batch after it, so that one video's scores all come from one network. The
quantized network is cached per weights file, input size and ONNX Runtime
version, so that cost (about ten seconds) is paid once.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import tempfile
import warnings
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np
import torch
from torch import nn

from .slim_resnet import ConvBN, ResNetV1, Unit

log = logging.getLogger("vidaesthetic")

CALIBRATION_FRAMES = 32
MIN_CALIBRATION_FRAMES = 8
"""Smaller batches (a single image) are scored in float32 until a batch this large comes."""


def available() -> bool:
    """Whether ONNX Runtime and ONNX are installed (the ``int8`` extra)."""
    return all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "onnx"))


def cache_file(folder: Path, weights_id: str, input_size: Tuple[int, int]) -> Path:
    import onnxruntime

    return folder / "int8" / f"{weights_id}-{input_size[0]}x{input_size[1]}-ort{onnxruntime.__version__}.onnx"


class Int8Network(nn.Module):
    """A stand-in for a :class:`ResNetV1` that runs quantized once calibrated (see the module docstring)."""

    def __init__(self, net: ResNetV1, input_size: Tuple[int, int], cache: Path) -> None:
        super().__init__()
        self.net = net
        self.input_size, self.cache = tuple(input_size), cache
        self._session = _session(cache) if cache.is_file() else None

    @property
    def calibrated(self) -> bool:
        return self._session is not None

    @property
    def depth(self) -> int:
        return self.net.depth

    @property
    def width(self) -> float:
        return self.net.width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._session is None and len(x) < MIN_CALIBRATION_FRAMES:
            return self.net(x)
        inputs = x.detach().to(torch.float32).contiguous().cpu().numpy()
        if self._session is None:
            log.info("calibrating the int8 network on %d frames (once per weights file)",
                     min(len(inputs), CALIBRATION_FRAMES))
            quantize(self.net, self.input_size, inputs[:CALIBRATION_FRAMES], self.cache)
            self._session = _session(self.cache)
        return torch.from_numpy(self._session.run(None, {"x": inputs})[0]).to(x.device)


def quantize(net: ResNetV1, input_size: Tuple[int, int], samples: np.ndarray, destination: Path) -> None:
    """Write the int8 ONNX model of ``net``, calibrated on ``samples`` (network inputs, N x 3 x H x W)."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Samples(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter(samples[i:i + 8] for i in range(0, len(samples), 8))

        def get_next(self) -> Optional[dict]:
            batch = next(self.batches, None)
            return None if batch is None else {"x": batch}

    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=destination.parent) as scratch:
        exported, prepared = Path(scratch) / "float32.onnx", Path(scratch) / "prepared.onnx"
        example = torch.from_numpy(samples[:1])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(folded_network(net, input_size).eval(), (example,), str(exported), input_names=["x"],
                              output_names=["embedding"], dynamic_axes={"x": {0: "n"}}, dynamo=False)
        quant_pre_process(str(exported), str(prepared))
        quantized = Path(scratch) / "int8.onnx"
        quantize_static(str(prepared), str(quantized), Samples(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        os.replace(quantized, destination)  # whole or not at all, also for another process calibrating at once


def _session(path: Path):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def folded_network(net: ResNetV1, input_size: Tuple[int, int]) -> nn.Module:
    """The same function as ``net`` (in eval mode) in plain layers that export and quantize well:
    batch norm folded into the convolutions, and TF's asymmetric max-pool padding made explicit."""
    return _Folded(net, input_size)


def _fold(layer: ConvBN) -> nn.Module:
    bn = layer.bn
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    conv = nn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size, layer.stride, layer.padding)
    with torch.no_grad():
        conv.weight.copy_(layer.weight * scale[:, None, None, None])
        conv.bias.copy_(bn.bias - bn.running_mean * scale)
    return nn.Sequential(conv, nn.ReLU()) if layer.relu else conv


class _FoldedUnit(nn.Module):
    def __init__(self, unit: Unit) -> None:
        super().__init__()
        if unit.shortcut is not None:
            self.shortcut: nn.Module = _fold(unit.shortcut)
        else:  # slim's subsample: a 1 x 1 max-pool with the unit's stride
            self.shortcut = nn.MaxPool2d(1, unit.stride) if unit.stride > 1 else nn.Identity()
        convs = [module for name, module in unit.named_children() if name.startswith("conv")]
        self.residual = nn.Sequential(*[_fold(conv) for conv in convs])
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.shortcut(x) + self.residual(x))


class _Folded(nn.Module):
    def __init__(self, net: ResNetV1, input_size: Tuple[int, int]) -> None:
        super().__init__()
        self.conv1 = _fold(net.conv1)
        pads: List[int] = []
        for size in reversed(input_size):  # after conv1 (stride 2); ZeroPad2d lists the width first
            size = -(-size // 2)
            total = max((-(-size // 2) - 1) * 2 + 3 - size, 0)
            pads += [total // 2, total - total // 2]
        self.pad = nn.ZeroPad2d(tuple(pads))  # after a ReLU, padding with zeros is padding with -inf for a max
        self.pool = nn.MaxPool2d(3, 2)
        self.units = nn.Sequential(*[_FoldedUnit(unit) for index in range(1, 5)
                                     for unit in getattr(net, f"block{index}")])
        self.average = nn.AdaptiveAvgPool2d(1)
        self.logits = net.logits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.units(self.pool(self.pad(self.conv1(x))))
        return self.logits(self.average(x)).flatten(1)
