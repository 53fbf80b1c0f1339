"""``open_video``: check the path, pick a backend, return a :class:`VideoSource`; ``open_live`` for one pass."""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Callable, Dict, List

from ..errors import BackendUnavailable, InputError, PathLike, VideoError
from .source import VideoSource

if TYPE_CHECKING:
    from .live import LiveInput, LiveSource


def _pyav(path: str) -> VideoSource:
    from .pyav_backend import PyAVSource

    return PyAVSource(path)


def _decord(path: str) -> VideoSource:
    from .decord_backend import DecordSource

    return DecordSource(path)


def _torchcodec(path: str) -> VideoSource:
    from .torchcodec_backend import TorchCodecSource

    return TorchCodecSource(path)


# backend name -> factory; each backend module is imported only when used
BACKENDS: Dict[str, Callable[[str], VideoSource]] = {
    "pyav": _pyav,
    "decord": _decord,
    "torchcodec": _torchcodec,
}


def _torchcodec_loads() -> bool:
    """torchcodec imports without FFmpeg's libraries and fails only when decoding; check they loaded."""
    importlib.import_module("torchcodec.decoders")
    return importlib.import_module("torchcodec._core").core_library_path is not None


_LOADS: Dict[str, Callable[[], object]] = {
    "pyav": lambda: importlib.import_module("av"),
    "decord": lambda: importlib.import_module("decord"),
    "torchcodec": _torchcodec_loads,
}


_INSTALL_HINTS = {
    "torchcodec": "pip install vidaesthetic[torchcodec]; it also needs FFmpeg's shared libraries, "
                  "e.g. apt-get install ffmpeg",
}


def _importable(backend: str) -> bool:
    try:
        return bool(_LOADS[backend]())
    except Exception:  # a broken native library raises more than ImportError
        return False


def available_backends() -> List[str]:
    """Backends that can decode on this machine, the default first."""
    return [name for name in BACKENDS if _importable(name)]


def check_readable(path: PathLike) -> str:
    """The path as a string, or an :class:`InputError` saying why it cannot be a video."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise InputError("no such file", path)
    if os.path.isdir(path):
        raise InputError("is a directory, not a video file", path)
    if not os.access(path, os.R_OK):
        raise InputError("permission denied", path)
    if os.path.getsize(path) == 0:
        raise VideoError("is an empty file", path)
    return path


def open_video(path: PathLike, backend: str = "auto") -> VideoSource:
    """Open a video for decoding.

    Args:
        path: the video file.
        backend: ``"pyav"`` (the default for ``"auto"``), ``"decord"`` or ``"torchcodec"``.

    Raises:
        InputError: the file is missing, unreadable or not a decodable video.
        BackendUnavailable: the backend asked for is not installed here.
    """
    path = check_readable(path)
    name = "pyav" if backend == "auto" else backend
    if name not in BACKENDS:
        raise InputError(f"unknown backend {backend!r}; choose from auto, {', '.join(BACKENDS)}")
    if not _importable(name):
        raise BackendUnavailable(
            f"the {name} backend is not available here ({_INSTALL_HINTS.get(name, f'pip install {name}')}); installed: "
            f"{', '.join(available_backends())}"
        )
    return BACKENDS[name](path)


def open_live(source: "LiveInput", *, open_timeout: float = 15.0, read_timeout: float = 10.0,
              drop_late: bool = False) -> "LiveSource":
    """Open a video to read once, as it arrives: a pipe, a URL, a camera, or a file read like one.

    Such a source cannot seek (see :class:`vidaesthetic.video.live.LiveSource`
    for the sources it takes and what one pass allows); every read has a
    deadline, and ``drop_late`` drops frames of a real-time source that the
    reader has not taken in time rather than let decoding wait.

    Raises:
        VideoError: the source cannot be opened, or times out.
        InputError: a malformed webcam name.
    """
    from .live import LiveSource

    return LiveSource(source, open_timeout=open_timeout, read_timeout=read_timeout, drop_late=drop_late)
