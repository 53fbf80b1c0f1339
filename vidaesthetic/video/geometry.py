"""Display geometry: sample aspect ratio and rotation metadata."""

from __future__ import annotations

from typing import Tuple

import numpy as np
import torch


def display_size(coded_w: int, coded_h: int, sample_aspect_ratio: float, rotation: int) -> Tuple[int, int]:
    """(width, height) a player shows: non-square pixels stretched, then rotated."""
    width = max(1, int(round(coded_w * sample_aspect_ratio))) if sample_aspect_ratio > 0 else coded_w
    height = coded_h
    return (height, width) if rotation % 180 else (width, height)


def clockwise_turns(counter_clockwise: float) -> int:
    """A display rotation in counter-clockwise degrees (as FFmpeg gives it) as clockwise quarter turns, 0 to 3."""
    return int(round(-counter_clockwise / 90.0)) % 4


def rotate_batch(frames: torch.Tensor, turns: int) -> torch.Tensor:
    """Rotate N x C x H x W frames clockwise by ``turns`` quarter turns."""
    return torch.rot90(frames, k=-turns, dims=(2, 3)) if turns % 4 else frames


def rotate_array(picture: np.ndarray, turns: int) -> np.ndarray:
    """Rotate an H x W x C picture clockwise by ``turns`` quarter turns."""
    return np.ascontiguousarray(np.rot90(picture, k=-turns)) if turns % 4 else picture


def before_rotation(height: int, width: int, turns: int) -> Tuple[int, int]:
    """(height, width) a picture must have so that ``turns`` quarter turns make it (height, width)."""
    return (width, height) if turns % 2 else (height, width)
