"""vidaesthetic: find the most aesthetically pleasing moments of a video.

The road: ``open_video`` -> ``score_video`` -> ``smooth`` -> ``find_spots`` ->
``save_spots`` / ``plot_curve``; ``extract_spots`` runs all of it for one video.
"""

__version__ = "0.1.0"

from .curve import ScoreCurve
from .errors import InputError, ModelError, OutputError, VidaestheticError, VideoError
from .export import save_spots, spots_document
from .images import rank_images
from .fast import score_video_fast
from .models import AestheticModel, available_models, load_model
from .pipeline import extract_spots
from .plot import plot_curve
from .scoring import score_video
from .smoothing import CausalSmoother, kalman_smooth, smooth
from .spots import Spot, find_spots
from .stream import BestShot, StreamScore, best_frame, save_best, stream_scores
from .timecode import format_timecode
from .video import FrameBatch, Sampling, VideoInfo, VideoSource, available_backends, open_video

__all__ = [
    "AestheticModel",
    "BestShot",
    "StreamScore",
    "best_frame",
    "rank_images",
    "save_best",
    "stream_scores",
    "CausalSmoother",
    "FrameBatch",
    "InputError",
    "ModelError",
    "OutputError",
    "Sampling",
    "ScoreCurve",
    "Spot",
    "VidaestheticError",
    "VideoError",
    "VideoInfo",
    "VideoSource",
    "available_backends",
    "available_models",
    "extract_spots",
    "find_spots",
    "format_timecode",
    "kalman_smooth",
    "load_model",
    "open_video",
    "plot_curve",
    "save_spots",
    "score_video",
    "score_video_fast",
    "smooth",
    "spots_document",
]
