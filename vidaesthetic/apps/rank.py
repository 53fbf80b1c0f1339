"""Ranking still images by aesthetic score, and copying (or linking) the best of them into a folder.

The paper's first application: re-sort a photo collection so the pictures
people are most likely to like come first. Each image is shown to the model
whole (resized to its input size, aspect ratio not kept, as the paper does).
A file that cannot be read is reported and skipped, so one bad file never
costs the ranking of a whole collection.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional, Tuple, Union

import numpy as np
import torch
from PIL import UnidentifiedImageError
from tqdm import tqdm

from .._internal.images import load_rgb
from .._internal.prefetch import prefetch
from ..curve.scoring import progress_enabled
from ..errors import InputError, PathLike
from ..models import AestheticModel, load_model

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"})

@dataclass
class RankedImage:
    """One scored image; ``width`` x ``height`` is its upright size as a viewer sees it."""

    rank: int
    path: Path
    score: float
    width: int
    height: int

    def to_dict(self) -> Dict[str, object]:
        return {"rank": self.rank, "path": str(self.path), "score": self.score,
                "width": self.width, "height": self.height}


@dataclass
class RankReport:
    """Images best first (rank 1 is best), the files that could not be read, and the model used."""

    ranked: List[RankedImage]
    failed: List[Tuple[Path, str]]
    model: Dict[str, object] = field(default_factory=dict)

    def to_dict(self) -> Dict[str, object]:
        return {
            "model": self.model,
            "ranked": [image.to_dict() for image in self.ranked],
            "failed": [{"path": str(path), "reason": reason} for path, reason in self.failed],
        }


def find_images(paths: Union[PathLike, Iterable[PathLike]], recursive: bool = True) -> List[Path]:
    """Files named directly (whatever their suffix), then images found in the named directories.

    Directory contents are sorted, and hidden files and folders are skipped
    (thumbnail caches, macOS ``._`` files), so the same tree always gives the
    same list. A path given twice is listed once.
    """
    paths = [paths] if isinstance(paths, (str, os.PathLike)) else paths
    found: List[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found.extend(_scan(path, recursive))
        elif path.exists():
            found.append(path)
        else:
            raise InputError("no such file or directory", path)
    return list(dict.fromkeys(found))


def _scan(directory: Path, recursive: bool) -> List[Path]:
    found = []
    for folder, subfolders, files in os.walk(directory):
        subfolders[:] = [name for name in subfolders if recursive and not name.startswith(".")]
        found.extend(
            Path(folder) / name for name in files
            if not name.startswith(".") and Path(name).suffix.lower() in IMAGE_SUFFIXES
        )
    return sorted(found)


@dataclass
class _Batch:
    """Pixels of the images of one batch that could be read, and the reasons for those that could not."""

    paths: List[Path]
    sizes: List[Tuple[int, int]]
    frames: Optional[torch.Tensor]
    failed: List[Tuple[Path, str]]


def rank_images(
    paths: Union[PathLike, Iterable[PathLike]],
    model: Optional[AestheticModel] = None,
    *,
    recursive: bool = True,
    batch_size: int = 32,
    top: Optional[int] = None,
    progress: Optional[bool] = None,
    workers: int = 4,
) -> RankReport:
    """Score images and sort them best first.

    Args:
        paths: image files and/or directories (see :func:`find_images`).
        model: the model to score with; the default model when None.
        recursive: also look in the subdirectories of directories.
        batch_size: images per model call; at most four batches of pixels are
            held at a time, whatever the number of images.
        top: keep only the best ``top`` images in ``ranked``.
        progress: a progress bar on stderr; None shows it only on a terminal.
        workers: threads that decode images (Pillow decodes without the GIL).

    Returns:
        A :class:`RankReport`; unreadable files are in ``failed``, not raised.
    """
    if batch_size < 1 or workers < 1:
        raise InputError("batch size and workers must be at least 1")
    if top is not None and top < 1:
        raise InputError("top must be at least 1")
    files = find_images(paths, recursive)
    model = model if model is not None else load_model()
    scored: List[RankedImage] = []
    failed: List[Tuple[Path, str]] = []
    bar = tqdm(total=len(files), unit="image", desc="ranking", disable=not progress_enabled(progress),
               file=sys.stderr, leave=False)
    with bar, ThreadPoolExecutor(workers, thread_name_prefix="vidaesthetic-image") as pool, \
            closing(prefetch(lambda: _batches(files, model, pool, batch_size), name="vidaesthetic-images")) as batches:
        for batch in batches:  # the loader stays a batch ahead of the model, in its own thread
            failed.extend(batch.failed)
            if batch.frames is not None:
                scores = model.score(batch.frames.to(model.device, non_blocking=True)).tolist()
                scored.extend(RankedImage(0, path, score, *size)
                              for path, score, size in zip(batch.paths, scores, batch.sizes))
            bar.update(len(batch.paths) + len(batch.failed))
    scored.sort(key=lambda image: -image.score)  # stable: ties keep the order the files were found in
    for rank, image in enumerate(scored, start=1):
        image.rank = rank
    return RankReport(scored[:top], failed, model.describe())


def _batches(files: List[Path], model: AestheticModel, pool: ThreadPoolExecutor, batch_size: int) -> Iterator[_Batch]:
    height, width = model.frame_size
    pin = model.device.type == "cuda"
    for start in range(0, len(files), batch_size):
        batch = _Batch([], [], None, [])
        pictures = []
        chunk = files[start:start + batch_size]
        for path, loaded in zip(chunk, pool.map(lambda path: _load(path, width, height), chunk)):
            if isinstance(loaded, str):
                batch.failed.append((path, loaded))
            else:
                pictures.append(loaded[0])
                batch.paths.append(path)
                batch.sizes.append(loaded[1])
        if pictures:
            frames = torch.from_numpy(np.stack(pictures)).permute(0, 3, 1, 2)  # N x 3 x H x W, channels-last
            batch.frames = frames.pin_memory() if pin else frames
        yield batch


def _load(path: Path, width: int, height: int) -> Union[Tuple[np.ndarray, Tuple[int, int]], str]:
    """The upright picture at the model's size and its upright size, or why it cannot be read."""
    try:
        return load_rgb(path, width, height)
    except Exception as error:  # an untrusted file can make any decoder raise anything
        return _reason(error)


def _reason(error: Exception) -> str:
    if isinstance(error, UnidentifiedImageError):
        return "not an image, or a format Pillow cannot read"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__
