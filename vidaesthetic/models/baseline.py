"""``baseline``: a transparent, training-free frame-quality score.

It is not the paper's model. It exists so that vidaesthetic is useful offline
and with no weights: it prefers sharp, well-exposed, contrasty, colourful
frames, which is what a viewer notices first.

For luminance Y in [0, 1] of the frame at 224 x 224, averaged down to 112 x 112:

    sharpness   = 1 - exp(-var(Laplacian(Y)) / 0.015)
    exposure    = exp(-(mean(Y) - 0.5)^2 / (2 * 0.25^2)) * (1 - clipped)
                  with clipped the share of pixels with Y < 0.02 or Y > 0.98
    contrast    = 1 - exp(-std(Y) / 0.12)
    colourful   = 1 - exp(-M / 0.15), M = Hasler & Suesstrunk's colourfulness

    quality = sharpness^0.4 * exposure^0.3 * contrast^0.2 * (0.25 + 0.75 colourful)^0.1

A weighted geometric mean: a frame must be good on every count, so a black,
blown-out or blurred frame scores near zero whatever else it has. Colour has
a floor so that black-and-white footage is still ranked by the other terms.

The embedding is ``quality`` times a unit vector describing the frame's
coarse layout (mean colours of a 4 x 4 grid, centred), so that its norm is
the score, as for the learned model, and near-identical frames have
near-identical embeddings (useful to tell duplicates apart).
"""

from __future__ import annotations

from typing import Dict, Tuple

import torch
import torch.nn.functional as F

from .base import AestheticModel
from .spec import register_model

_LUMA = (0.299, 0.587, 0.114)
_GRID = 4


@register_model("baseline")
class BaselineModel(AestheticModel):
    """Sharpness x exposure x contrast x colourfulness, batched in torch on any device."""

    name = "baseline"
    input_size: Tuple[int, int] = (224, 224)
    embedding_dim = 3 * _GRID * _GRID

    SHARPNESS_SCALE = 0.015
    EXPOSURE_WIDTH = 0.25
    CLIP_LOW, CLIP_HIGH = 0.02, 0.98
    CONTRAST_SCALE = 0.12
    COLOURFULNESS_SCALE = 0.15
    WEIGHTS = {"sharpness": 0.4, "exposure": 0.3, "contrast": 0.2, "colourfulness": 0.1}
    COLOUR_FLOOR = 0.25

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("luma", torch.tensor(_LUMA), persistent=False)

    def describe(self) -> Dict[str, object]:
        return {**super().describe(), "formula": "sharpness^0.4 * exposure^0.3 * contrast^0.2 * colour^0.1"}

    def terms(self, frames: torch.Tensor) -> Dict[str, torch.Tensor]:
        """The four quality terms in [0, 1] for each frame (N,), for inspection and tests."""
        return self._terms(self._prepare(frames))

    def embed(self, frames: torch.Tensor) -> torch.Tensor:
        rgb = self._prepare(frames)
        terms = self._terms(rgb)
        quality = torch.ones_like(terms["sharpness"])
        for name, weight in self.WEIGHTS.items():
            value = terms[name]
            if name == "colourfulness":
                value = self.COLOUR_FLOOR + (1 - self.COLOUR_FLOOR) * value
            quality = quality * value.clamp_min(1e-12) ** weight
        return quality[:, None] * self._layout(rgb)

    def _prepare(self, frames: torch.Tensor) -> torch.Tensor:
        rgb = frames.to(self.luma.device, torch.float32)
        if tuple(rgb.shape[-2:]) != self.input_size:
            rgb = F.interpolate(rgb, size=self.input_size, mode="bilinear", antialias=True, align_corners=False)
        # Every statistic is taken at half resolution: a quarter of the work,
        # and a 2-pixel blur at 224 px still shows as a clear loss of detail.
        return F.avg_pool2d(rgb, 2) / 255.0

    def _terms(self, rgb: torch.Tensor) -> Dict[str, torch.Tensor]:
        red, green, blue = rgb.unbind(dim=1)
        luma = self.luma[0] * red + self.luma[1] * green + self.luma[2] * blue
        laplacian = (
            luma[:, :-2, 1:-1] + luma[:, 2:, 1:-1] + luma[:, 1:-1, :-2] + luma[:, 1:-1, 2:] - 4 * luma[:, 1:-1, 1:-1]
        )
        sharpness = 1 - torch.exp(-laplacian.flatten(1).var(dim=1) / self.SHARPNESS_SCALE)
        flat = luma.flatten(1)
        mean = flat.mean(dim=1)
        clipped = ((flat < self.CLIP_LOW) | (flat > self.CLIP_HIGH)).float().mean(dim=1)
        exposure = torch.exp(-((mean - 0.5) ** 2) / (2 * self.EXPOSURE_WIDTH**2)) * (1 - clipped)
        contrast = 1 - torch.exp(-flat.std(dim=1) / self.CONTRAST_SCALE)
        rg = (red - green).flatten(1)
        yb = (0.5 * (red + green) - blue).flatten(1)
        spread = torch.sqrt(rg.var(dim=1) + yb.var(dim=1))
        offset = torch.sqrt(rg.mean(dim=1) ** 2 + yb.mean(dim=1) ** 2)
        colourfulness = 1 - torch.exp(-(spread + 0.3 * offset) / self.COLOURFULNESS_SCALE)
        return {"sharpness": sharpness, "exposure": exposure, "contrast": contrast, "colourfulness": colourfulness}

    @staticmethod
    def _layout(rgb: torch.Tensor) -> torch.Tensor:
        grid = F.adaptive_avg_pool2d(rgb, _GRID).flatten(1)
        centred = grid - grid.mean(dim=1, keepdim=True)
        return F.normalize(centred, dim=1, eps=1e-6)
