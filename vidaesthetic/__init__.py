"""vidaesthetic: find the most aesthetically pleasing moments of a video.

The road: ``open_video`` -> ``score_video`` -> ``smooth`` -> ``find_spots`` ->
``save_spots`` / ``plot_curve``; ``extract_spots`` runs all of it for one video.
"""

from ._version import __version__
from .apps.best import BestShot, StreamScore, best_frame, save_best, stream_scores
from .apps.rank import rank_images
from .curve.fast import score_video_fast
from .curve.readers import read_curve
from .curve.record import ScoreCurve
from .curve.scoring import score_video
from .curve.smoothing import CausalSmoother, authors_smooth, kalman_smooth, smooth
from .curve.spots import Selection, Spot, choose_spots, find_spots
from .errors import InputError, ModelError, OutputError, VidaestheticError, VideoError
from .models import AestheticModel, available_models, load_model
from .output.folder import save_spots, spots_document
from .output.plot import plot_curve
from .output.scores import save_scores
from .pipeline import extract_spots
from .settings import SpotSettings
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
    "Selection",
    "SpotSettings",
    "VidaestheticError",
    "VideoError",
    "VideoInfo",
    "VideoSource",
    "available_backends",
    "available_models",
    "choose_spots",
    "extract_spots",
    "find_spots",
    "format_timecode",
    "kalman_smooth",
    "load_model",
    "open_video",
    "plot_curve",
    "save_scores",
    "save_spots",
    "score_video",
    "score_video_fast",
    "smooth",
    "authors_smooth",
    "read_curve",
    "spots_document",
]
