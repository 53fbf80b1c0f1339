"""Model-independent measurements of each scored frame.

Whatever the model says, a key frame must not be black, blank, a blurred
mess or part of a transition. These cheap measurements, taken on the frames
already decoded for the model, let the spot picker know which frames are
which: brightness and contrast (luminance mean and spread), sharpness
(variance of the Laplacian) and change from the previous scored frame (mean
difference of 16 x 16 thumbnails, which jumps at hard cuts), plus a
perceptual hash by which the same picture is known wherever it recurs (see
:mod:`vidaesthetic.curve.duplicates`).
"""

from __future__ import annotations

from typing import Dict, Optional

import torch
import torch.nn.functional as F

MEASURES = ("luma_mean", "luma_std", "sharpness", "change")
_LUMA = torch.tensor([0.299, 0.587, 0.114])
_THUMBNAIL = 16
HASH_BYTES = _THUMBNAIL * _THUMBNAIL // 8
_BIT_SHIFTS = torch.arange(7, -1, -1, dtype=torch.uint8)


def luminance(frames: torch.Tensor) -> torch.Tensor:
    """N x H x W luminance in 0..1 of uint8 RGB frames."""
    return torch.einsum("nchw,c->nhw", frames.float(), _LUMA.to(frames.device)) / 255.0


class FrameMeasures:
    """Measures batches in order; ``change`` continues across batch boundaries.

    Returns the float ``MEASURES`` of each frame and its ``hash`` (see :func:`picture_hashes`).
    """

    def __init__(self) -> None:
        self._previous: Optional[torch.Tensor] = None

    def __call__(self, frames: torch.Tensor) -> Dict[str, torch.Tensor]:
        luma = luminance(frames)
        laplacian = (luma[:, :-2, 1:-1] + luma[:, 2:, 1:-1] + luma[:, 1:-1, :-2] + luma[:, 1:-1, 2:]
                     - 4 * luma[:, 1:-1, 1:-1])
        thumbnails = F.adaptive_avg_pool2d(luma[:, None], _THUMBNAIL)[:, 0]
        previous = torch.cat([thumbnails[:1] if self._previous is None else self._previous, thumbnails[:-1]])
        self._previous = thumbnails[-1:]
        measured = {
            "luma_mean": luma.mean(dim=(1, 2)),
            "luma_std": luma.std(dim=(1, 2)),
            "sharpness": laplacian.flatten(1).var(dim=1),
            "change": (thumbnails - previous).abs().mean(dim=(1, 2)),
        }
        measured = {name: value.float().cpu() for name, value in measured.items()}
        measured["hash"] = picture_hashes(luma)
        return measured


def picture_hashes(luma: torch.Tensor) -> torch.Tensor:
    """N x ``HASH_BYTES`` uint8 perceptual hashes of N x H x W luminance: whether it rises from each
    cell to the next along the rows of a 16 x 17 thumbnail (a difference hash), 8 bits to a byte.

    The signs of coarse gradients survive re-encoding, scaling and noise but
    differ between different pictures.
    """
    thumbnails = F.adaptive_avg_pool2d(luma[:, None], (_THUMBNAIL, _THUMBNAIL + 1))[:, 0]
    rises = (thumbnails[:, :, 1:] > thumbnails[:, :, :-1]).flatten(1).reshape(len(luma), HASH_BYTES, 8)
    return (rises.to(torch.uint8) << _BIT_SHIFTS.to(luma.device)).sum(dim=2, dtype=torch.uint8).cpu()
