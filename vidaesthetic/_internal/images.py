"""Reading a picture file the way a viewer sees it, shared by photo ranking and training.

Training and inference must see the same pixels for the same file, so
both load pictures here: EXIF orientation applied, transparency laid over
white, 16-bit grey scaled rather than clipped, and resized with the
training recipe's filter.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np
from PIL import ExifTags, Image, ImageOps

from ..errors import PathLike

_TURNED = (5, 6, 7, 8)
"""EXIF orientations that turn the picture a quarter, swapping its width and height."""


def upright_rgb(image: Image.Image) -> Image.Image:
    """RGB as a viewer sees it: EXIF orientation applied, transparency over white, 16-bit grey scaled."""
    image = ImageOps.exif_transpose(image)
    if image.mode == "I" or image.mode.startswith("I;16"):
        image = image.point(lambda value: value / 256)
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        image = image.convert("RGBA")
        return Image.alpha_composite(Image.new("RGBA", image.size, "white"), image).convert("RGB")
    return image.convert("RGB")


def load_rgb(path: PathLike, width: int, height: int) -> Tuple[np.ndarray, Tuple[int, int]]:
    """The upright picture at ``path`` resized to ``width`` x ``height`` (uint8, H x W x 3) and its upright size.

    Raises whatever Pillow raises on a file that is not a readable image.
    """
    with Image.open(path) as image:
        size = image.size[::-1] if image.getexif().get(ExifTags.Base.Orientation) in _TURNED else image.size
        # JPEGs decode straight at 1/2 to 1/8 scale when that still covers the
        # wanted size in either orientation: several times faster for camera photos.
        image.draft("RGB", (max(width, height),) * 2)
        # Bilinear with Pillow's antialiasing, the filter the training recipe uses.
        picture = np.asarray(upright_rgb(image).resize((width, height), Image.Resampling.BILINEAR))
    return picture, size
