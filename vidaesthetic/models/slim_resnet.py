"""A PyTorch ResNet laid out exactly like TF-slim's ``resnet_v1``.

The authors' released model is a TF-slim ``resnet_v1_50``, which differs from
torchvision's ResNet in ways that move the embedding by up to tens of percent:
the max-pool pads TF-style ("SAME": nothing before, one pixel after on even
sizes), each of blocks 1-3 strides in the 3x3 conv of its *last* unit, and
those strided units take ``x[:, :, ::2, ::2]`` as shortcut. This module
reproduces that layout so the released weights load one to one.

Parameter names mirror the slim variable scopes so the mapping stays
mechanical (see :mod:`vidaesthetic.models.slim_convert`)::

    conv1.weight, conv1.bn.{weight,bias,running_mean,running_var}
                                      <-> resnet_v1_50/conv1/{weights,BatchNorm/...}
    block1.0.conv2.weight             <-> resnet_v1_50/block1/unit_1/bottleneck_v1/conv2/weights
    block2.0.shortcut.bn.running_var  <-> .../block2/unit_1/bottleneck_v1/shortcut/BatchNorm/moving_variance
    logits.weight, logits.bias        <-> resnet_v1_50/logits/{weights,biases}

``blockB.U`` is slim's ``blockB/unit_{U+1}``. Depths 18 and 34 (not in slim)
use the same style with two 3x3 convs per unit under the scope ``basic_v1``.
"""

from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import ContextManager, Dict, Iterator, Optional, Sequence, Tuple, Type, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .base import AestheticModel
from .spec import Release, register_model

BN_EPSILON = 1e-5
"""slim's ``resnet_arg_scope`` epsilon (a port with Keras' 1e-3 drifts by ~1 %)."""

PAPER_MODEL = "aesthetic-resnet50"
"""The registry name of the paper's model, the default."""

MEAN_RGB = (123.15, 115.90, 103.06)
"""Channel means of the authors' mean image ``mean_bgr.p``, in RGB order."""

BLOCK_DEPTHS = (64, 128, 256, 512)
"""Base channel count of blocks 1-4 (bottleneck units output four times this)."""


def max_pool_same(x: torch.Tensor, kernel: int = 3, stride: int = 2) -> torch.Tensor:
    """Max-pool with TF "SAME" padding, which is asymmetric (extra pixel after).

    PyTorch's ``padding=1`` pads both sides and shifts every window by one
    pixel on even sizes, so it is not equivalent.
    """
    pads = []
    for size in reversed(x.shape[-2:]):  # F.pad lists the last dimension first
        out = -(-size // stride)
        total = max((out - 1) * stride + kernel - size, 0)
        pads += [total // 2, total - total // 2]
    return F.max_pool2d(F.pad(x, pads, value=-math.inf), kernel, stride)


class _GuidedReLU(torch.autograd.Function):
    """ReLU whose backward also drops negative gradients (Springenberg et al.'s guided backprop)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (out,) = ctx.saved_tensors
        return grad.clamp_min(0) * (out > 0)


def relu(x: torch.Tensor, guided: bool = False) -> torch.Tensor:
    """The network's one ReLU; the forward is ``F.relu`` either way, only ``guided`` changes the backward."""
    return _GuidedReLU.apply(x) if guided else F.relu(x)


@contextlib.contextmanager
def guided_backprop(net: nn.Module) -> Iterator[None]:
    """Make every ReLU of ``net`` guided for the block, and restore it afterwards, also on errors.

    A per-module flag rather than a global switch, so other models (and
    threads scoring with them) are unaffected.
    """
    layers = [module for module in net.modules() if isinstance(module, (ConvBN, Unit))]
    previous = [layer.guided for layer in layers]
    for layer in layers:
        layer.guided = True
    try:
        yield
    finally:
        for layer, value in zip(layers, previous, strict=True):
            layer.guided = value


def subsample(x: torch.Tensor, stride: int) -> torch.Tensor:
    """slim's ``subsample``: a 1x1 max-pool with ``stride``, i.e. plain striding."""
    return x if stride == 1 else x[:, :, ::stride, ::stride]


class ConvBN(nn.Conv2d):
    """slim ``conv2d`` (no bias) + ``BatchNorm`` (+ ReLU unless ``relu=False``).

    Padding is symmetric ``(k - 1) // 2``: for the odd kernels used here that
    is both TF "SAME" at stride 1 and slim's ``conv2d_same`` (explicit pad,
    then VALID) at stride 2.
    """

    guided: bool = False
    """Whether the ReLU's backward is guided; set by :func:`guided_backprop`."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int,
                 stride: int = 1, relu: bool = True) -> None:
        super().__init__(in_channels, out_channels, kernel, stride,
                         padding=(kernel - 1) // 2, bias=False)
        self.bn = nn.BatchNorm2d(out_channels, eps=BN_EPSILON)
        self.relu = relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(super().forward(x))
        return relu(x, self.guided) if self.relu else x


class Unit(nn.Module):
    """A residual unit; the shortcut is a projection only when channels change."""

    scope: str = ""
    expansion: int = 1
    guided: bool = False
    """Whether the output ReLU's backward is guided; set by :func:`guided_backprop`."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.shortcut: Optional[ConvBN] = None
        if in_channels != out_channels:
            self.shortcut = ConvBN(in_channels, out_channels, 1, stride, relu=False)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = subsample(x, self.stride) if self.shortcut is None else self.shortcut(x)
        return relu(shortcut + self.residual(x), self.guided)


class Bottleneck(Unit):
    """slim ``bottleneck_v1``: 1x1 -> 3x3 (carries the stride) -> 1x1."""

    scope = "bottleneck_v1"
    expansion = 4

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__(in_channels, out_channels, stride)
        inner = out_channels // self.expansion
        self.conv1 = ConvBN(in_channels, inner, 1)
        self.conv2 = ConvBN(inner, inner, 3, stride)
        self.conv3 = ConvBN(inner, out_channels, 1, relu=False)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv3(self.conv2(self.conv1(x)))


class Basic(Unit):
    """Two 3x3 convs in the slim style (stride on the first), for depths 18/34."""

    scope = "basic_v1"

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__(in_channels, out_channels, stride)
        self.conv1 = ConvBN(in_channels, out_channels, 3, stride)
        self.conv2 = ConvBN(out_channels, out_channels, 3, relu=False)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.conv1(x))


LAYOUTS: Dict[int, Tuple[Type[Unit], Tuple[int, int, int, int]]] = {
    18: (Basic, (2, 2, 2, 2)),
    34: (Basic, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
}
"""Unit type and units per block for each supported depth."""


class ResNetV1(nn.Module):
    """slim ``resnet_v1_<depth>`` with global pooling and a 1x1-conv ``logits`` head.

    Input: N x 3 x H x W float, already mean-subtracted. Output: N x ``num_outputs``
    (slim's squeezed ``logits``, the paper's embedding Phi).

    Args:
        depth: 18, 34, 50 or 101.
        width: channel multiplier (e.g. 0.25 for small training models).
        num_outputs: channels of ``logits``.
    """

    def __init__(self, depth: int = 50, width: float = 1.0, num_outputs: int = 1000) -> None:
        super().__init__()
        if depth not in LAYOUTS:
            raise ValueError(f"unsupported depth {depth}; choose one of {sorted(LAYOUTS)}")
        if width <= 0:
            raise ValueError(f"width must be positive, got {width}")
        self.depth, self.width, self.num_outputs = depth, width, num_outputs
        unit, counts = LAYOUTS[depth]
        channels = _scaled(64, width)
        self.conv1 = ConvBN(3, channels, 7, stride=2)
        for index, (count, base) in enumerate(zip(counts, BLOCK_DEPTHS, strict=True), start=1):
            out_channels = _scaled(base, width) * unit.expansion
            last_stride = 2 if index < 4 else 1
            units = []
            for position in range(count):
                units.append(unit(channels, out_channels, last_stride if position == count - 1 else 1))
                channels = out_channels
            self.add_module(f"block{index}", nn.Sequential(*units))
        self.logits = nn.Conv2d(channels, num_outputs, 1)

    @property
    def scope(self) -> str:
        """The slim variable scope of this network, e.g. ``resnet_v1_50``."""
        return f"resnet_v1_{self.depth}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = max_pool_same(self.conv1(x))
        for index in range(1, 5):
            x = getattr(self, f"block{index}")(x)
        x = x.mean(dim=(2, 3), keepdim=True)  # slim's global pool ("pool5")
        return self.logits(x).flatten(1)


def _scaled(channels: int, width: float) -> int:
    return max(1, round(channels * width))


MeanLike = Union[torch.Tensor, np.ndarray, Sequence[float]]


def _fetch_authors_release() -> Path:
    """The authors' weights, converted into the cache (imported late: the release code builds this module's model)."""
    from .registry import fetch_release

    return fetch_release()


@register_model(
    PAPER_MODEL, input_size=(224, 224), embedding_dim=1000, mean=MEAN_RGB, colour_order="BGR",
    environment="VIDAESTHETIC_WEIGHTS", release=Release(_fetch_authors_release, "the authors' model (98 MiB)"),
)
class AestheticResNet(AestheticModel):
    """The paper's encoder: uint8 RGB frames -> whole-frame resize -> minus mean -> ResNet.

    Load weights into ``self.net`` (e.g. with
    :func:`vidaesthetic.models.slim_convert.state_dict_from_slim`) and set
    :attr:`weights_id`. The model starts in eval mode.

    Args:
        depth, width: see :class:`ResNetV1`.
        input_size: (height, width) the network sees; frames are resized to it.
        embedding_dim: length of the embedding (``logits`` channels).
        mean: RGB mean subtracted from 0..255 pixels: three channel means or a
            (3, H, W) mean image at ``input_size``. The authors' ``mean_bgr.p``
            is BGR, so flip its first axis before passing it.
    """

    mean: torch.Tensor
    architecture = "tf-slim-resnet_v1"

    def __init__(self, depth: int = 50, width: float = 1.0,
                 input_size: Tuple[int, int] = (224, 224), embedding_dim: int = 1000,
                 mean: MeanLike = MEAN_RGB) -> None:
        super().__init__()
        self.name = f"aesthetic-resnet{depth}"
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.embedding_dim = embedding_dim
        self.net = ResNetV1(depth, width, embedding_dim)
        self.register_buffer("mean", _mean_image(mean, self.input_size))
        self.eval()  # scoring must use BN's moving statistics; training opts in with .train()

    def weights_config(self) -> Dict[str, object]:
        return {"depth": self.net.depth, "width": float(self.net.width),
                "input_size": list(self.input_size), "embedding_dim": self.embedding_dim}

    def guided_backprop(self) -> ContextManager[None]:
        return guided_backprop(self.net)

    def describe(self) -> Dict[str, object]:
        return {
            **super().describe(),
            "architecture": "tf-slim resnet_v1",
            "depth": self.net.depth,
            "width": self.net.width,
        }

    def embed(self, frames: torch.Tensor) -> torch.Tensor:
        """Embeddings (N x D, float32) of RGB frames (N x 3 x h x w, uint8 or float 0..255).

        Frames of another size are resized whole (aspect ratio not kept), as
        the authors did: bilinear and antialiased, or with ``resize="authors"``
        as their demo did, squashed to 256 x 256 first (their re-encode, to
        whole levels) and then resized to 224 x 224 bilinearly without
        antialiasing (OpenCV's ``INTER_LINEAR`` on float32 pictures).
        """
        if frames.ndim != 4 or frames.shape[1] != 3:
            raise ValueError(f"expected N x 3 x H x W frames, got shape {tuple(frames.shape)}")
        x = frames.to(self.mean.dtype)
        if self.resize == "authors":
            x = authors_resize(x, self.frame_size, self.input_size)
        elif tuple(x.shape[-2:]) != self.input_size:
            x = F.interpolate(x, size=self.input_size, mode="bilinear",
                              align_corners=False, antialias=True)
        return self.net(x - self.mean).float()


def authors_resize(frames: torch.Tensor, frame_size: Tuple[int, int], input_size: Tuple[int, int]) -> torch.Tensor:
    """Float frames (N x 3 x H x W, 0..255) as the authors' demo fed them: squashed to ``frame_size`` in
    whole levels (their re-encode) unless already that size, then ``cv2.resize`` to ``input_size`` on
    float32 pictures (bilinear, half-pixel centres, no antialiasing)."""
    if tuple(frames.shape[-2:]) != tuple(frame_size):
        frames = F.interpolate(frames, size=frame_size, mode="bilinear", align_corners=False, antialias=True).round()
    return F.interpolate(frames, size=input_size, mode="bilinear", align_corners=False, antialias=False)


def _mean_image(mean: MeanLike, size: Tuple[int, int]) -> torch.Tensor:
    """A float32 (3, H, W) mean image from channel means or a full mean image."""
    if isinstance(mean, torch.Tensor):
        tensor = mean.detach().to("cpu", torch.float32)
    else:
        tensor = torch.from_numpy(np.array(mean, dtype=np.float32))
    if tensor.shape == (3,):
        return tensor.view(3, 1, 1).expand(3, *size).clone()
    if tensor.shape == (3, *size):
        return tensor.clone()
    raise ValueError(f"mean must have shape (3,) or (3, {size[0]}, {size[1]}), "
                     f"got {tuple(tensor.shape)}")
