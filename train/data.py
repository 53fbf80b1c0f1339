"""Images for training and evaluation: a fixed split, and batches loaded in parallel."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import List, Sequence, Tuple, TypeVar

import numpy as np
import torch

from vidaesthetic._internal.images import load_rgb

Row = TypeVar("Row")


def is_validation(image_id: str, fraction: float) -> bool:
    """A stable split by id: the same image is held out in every run and on every machine."""
    bucket = int(hashlib.sha1(image_id.encode()).hexdigest()[:8], 16) % 10_000
    return bucket < fraction * 10_000


def split(rows: Sequence[Row], fraction: float) -> Tuple[List[Row], List[Row]]:
    """(training rows, held-out rows) by :func:`is_validation` of each row's ``id``."""
    held_out = [row for row in rows if is_validation(row.id, fraction)]  # type: ignore[attr-defined]
    kept = [row for row in rows if not is_validation(row.id, fraction)]  # type: ignore[attr-defined]
    return kept, held_out


def load_image(path: Path, size: int) -> np.ndarray:
    """The whole image resized to size x size (aspect not kept, as the paper does), uint8 RGB, C x H x W.

    Loaded as photo ranking loads it, so a model sees the same pixels in training and in use.
    """
    picture, _ = load_rgb(path, size, size)
    return picture.transpose(2, 0, 1).copy()


class ImageLoader:
    """Loads batches of images with a thread pool (Pillow decodes without holding the GIL)."""

    def __init__(self, size: int, workers: int = 4) -> None:
        self.size = size
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="train-images")

    def load(self, paths: Sequence[Path]) -> torch.Tensor:
        """uint8 N x 3 x size x size, in the order of ``paths``."""
        pictures = list(self._pool.map(lambda path: load_image(path, self.size), paths))
        return torch.from_numpy(np.stack(pictures))

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def __enter__(self) -> "ImageLoader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
