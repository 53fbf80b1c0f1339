"""Which pixels make a frame score high: guided-backprop saliency (the paper's Fig. 9).

The score is the L2 norm of the embedding; its gradient with respect to the
input pixels, with every ReLU guided (gradients pass back only where both the
forward input and the incoming gradient are positive), highlights the edges
and textures that raise the score rather than a blur of everything that
touches it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Tuple

import numpy as np
import torch
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import InputError, ModelError, PathLike
from ..models.base import AestheticModel
from ..output.plot import save_figure
from ..timecode import format_timecode, parse_time
from ..video import open_video

CLIP_PERCENTILE = 99.0
"""Gradient magnitudes above this percentile all map to 1: a few extreme pixels must not darken the rest."""


def guided_saliency(model: AestheticModel, frame: np.ndarray) -> np.ndarray:
    """Saliency (H x W float in [0, 1]) of an H x W x 3 uint8 RGB frame for ``model``'s score.

    The gradient is taken with respect to the frame's own pixels, through the
    model's resize, so it comes back at the frame's size. The model's
    parameters, their ``.grad``, its mode and its ReLUs are left as they were.
    """
    guided = model.guided_backprop()
    if guided is None:
        raise ModelError(f"the {model.name} model has no saliency; use the learned model (vidaesthetic weights fetch)")
    pixels = torch.tensor(frame, dtype=torch.float32, device=model.device).permute(2, 0, 1)[None].requires_grad_()
    training = model.training
    model.eval()  # batch statistics of one frame would explain nothing (and move BN's running ones)
    try:
        # float32 and no autocast: low-precision gradients are mostly noise at the input.
        with guided, torch.enable_grad():
            score = torch.linalg.vector_norm(model.embed(pixels), dim=1).sum()
            (gradient,) = torch.autograd.grad(score, pixels)
    finally:
        model.train(training)
    magnitude = gradient[0].abs().amax(dim=0).cpu().numpy()
    ceiling = np.percentile(magnitude, CLIP_PERCENTILE)
    if not ceiling > 0:
        return np.zeros(magnitude.shape, dtype=np.float32)
    return np.clip(magnitude / ceiling, 0.0, 1.0).astype(np.float32)


def parse_target(target: str) -> Tuple[Path, Optional[float]]:
    """``"clip.mp4@12.5"`` -> (path, 12.5 seconds); ``"HH:MM:SS.mmm"`` works too.

    Whatever follows the last ``@`` is a time only if it reads as one, so
    ``photo@2x.png`` stays a path.
    """
    path, separator, suffix = target.rpartition("@")
    if separator and path:
        try:
            return Path(path), parse_time(suffix)
        except ValueError:
            pass  # not a time: part of the file's name
    return Path(target), None


def load_target(target: str) -> Tuple[np.ndarray, str]:
    """The frame (H x W x 3 uint8 RGB) that ``target`` names, and a description of it for titles.

    An image file is shown upright (EXIF orientation applied); anything else
    is opened as a video and gives the frame at the time, by default the middle.
    """
    path, time = parse_target(target)
    if not path.is_file():
        raise InputError("no such file" if not path.exists() else "not a file", path)
    try:
        with Image.open(path) as image:
            if time is not None:
                raise InputError("is an image; a time (@...) applies only to videos", path)
            return np.asarray(ImageOps.exif_transpose(image).convert("RGB")), path.name
    except UnidentifiedImageError:
        pass  # not an image: a video, or open_video says what is wrong with it
    except OSError as error:
        raise InputError(f"cannot decode the image ({error})", path) from None
    with open_video(path) as video:
        info = video.info
        end = info.start_time + info.duration
        if time is None:
            time = info.start_time + info.duration / 2
        elif time > end:
            raise InputError(f"{format_timecode(time)} is past the end of the video ({format_timecode(end)})", path)
        ((found, picture),) = video.frames_at([time])
    return picture, f"{path.name} at {format_timecode(found)}"


def save_overlay(frame: np.ndarray, saliency: np.ndarray, path: PathLike, title: Optional[str] = None,
                 colormap: str = "inferno", alpha: float = 0.6) -> None:
    """Write the frame and its saliency heat map blended over it, side by side (atomically).

    Blending rather than the bare map keeps the highlights readable against
    what they highlight.
    """
    if saliency.shape != frame.shape[:2]:
        raise ValueError(f"saliency {saliency.shape} does not match the frame {frame.shape[:2]}")
    heat = colormaps[colormap](saliency)[..., :3]
    blend = ((1 - alpha) * frame / 255.0 + alpha * heat).clip(0, 1)
    height, width = saliency.shape
    figure = Figure(figsize=(12, 6 * height / width + 0.6), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    for axes, picture, label in zip(figure.subplots(1, 2), (frame, blend), ("frame", "guided-backprop saliency")):
        axes.imshow(picture)
        axes.set_title(label, fontsize=9)
        axes.set_axis_off()
    if title:
        figure.suptitle(title)
    save_figure(figure, path)
