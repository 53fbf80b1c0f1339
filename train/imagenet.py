"""Starting from ImageNet: torchvision's ResNet weights mapped onto the slim layout.

torchvision's ResNets (v1.5) put the stride in the first unit of a block and
slim's in the last, but every tensor has the same shape, so the weights carry
over name by name; only where the stride acts differs, which fine-tuning
absorbs. The classifier ``fc`` (1000 x C) becomes the initial ``logits``
projection. Files are read with ``torch.load(weights_only=True)``: no code runs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

import torch

from vidaesthetic.errors import ModelError
from vidaesthetic.models.slim_resnet import ResNetV1

# torchvision's released file names, by depth (hash suffixes as published).
FILES = {
    18: "resnet18-f37072fd.pth",
    34: "resnet34-b627a593.pth",
    50: "resnet50-0676ba61.pth",
    101: "resnet101-63fe2227.pth",
}


def find_weights(depth: int) -> Optional[Path]:
    """torchvision's ImageNet weights for ``depth`` if they are in the local torch hub cache."""
    name = FILES.get(depth)
    if name is None:
        return None
    folder = Path(torch.hub.get_dir()) / "checkpoints"
    candidates = sorted(folder.glob(f"resnet{depth}-*.pth")) if folder.is_dir() else []
    exact = folder / name
    return exact if exact.is_file() else (candidates[0] if candidates else None)


def _slim_key(key: str) -> str:
    """Our parameter name for a torchvision one."""
    key = re.sub(r"^layer(\d)\.", r"block\1.", key)
    key = key.replace("downsample.0.", "shortcut.").replace("downsample.1.", "shortcut.bn.")
    key = re.sub(r"(^|\.)bn(\d)\.", r"\1conv\2.bn.", key)
    return "logits." + key[3:] if key.startswith("fc.") else key


def load_imagenet(net: ResNetV1, path: Path) -> None:
    """Copy torchvision ImageNet weights into ``net`` (full width only)."""
    if net.width != 1.0:
        raise ModelError(f"ImageNet weights fit only width 1.0, not {net.width:g}", path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        ours = {_slim_key(key): value for key, value in state.items()}
        ours["logits.weight"] = ours["logits.weight"][:, :, None, None]
    except Exception as error:  # unreadable file or another model's keys
        raise ModelError(f"not torchvision ImageNet weights ({error})", path) from None
    if net.num_outputs != ours["logits.bias"].shape[0]:
        del ours["logits.weight"], ours["logits.bias"]  # another embedding size starts from random
    expected = net.state_dict()
    if ours.keys() - expected.keys() or any(ours[key].shape != expected[key].shape for key in ours):
        raise ModelError(f"not torchvision ResNet-{net.depth} ImageNet weights", path)
    net.load_state_dict(ours, strict=False)
