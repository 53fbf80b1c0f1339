"""Writing one picture as an image file: key frames and the best shot go through here."""

from __future__ import annotations

import numpy as np
from PIL import Image

from .._internal.atomic import OutputSet

IMAGE_FORMATS = {"jpg": "JPEG", "png": "PNG", "webp": "WEBP"}
"""Image formats written, by name, with Pillow's name for each."""


def write_image(picture: np.ndarray, outputs: OutputSet, name: str, image_format: str) -> Image.Image:
    """Write an H x W x 3 RGB picture as ``name`` in ``outputs``; returns the image for further use."""
    image = Image.fromarray(picture)
    options = {"quality": 92} if image_format in ("jpg", "webp") else {}
    image.save(outputs.reserve(name), format=IMAGE_FORMATS[image_format], **options)
    return image
