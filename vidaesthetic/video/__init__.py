"""Opening videos: one :class:`VideoSource` interface over several decoders."""

from .open import BACKENDS, available_backends, open_live, open_video
from .source import VideoSource
from .types import FrameBatch, Sampling, VideoInfo

__all__ = [
    "BACKENDS",
    "FrameBatch",
    "Sampling",
    "VideoInfo",
    "VideoSource",
    "available_backends",
    "open_live",
    "open_video",
]
