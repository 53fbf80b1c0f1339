"""Work for the crash-isolation tests to run in child processes: work that misbehaves, and decoding a whole video.

Child processes must import what they run, so these live in a module of
their own (``tests/`` is on ``sys.path`` under pytest, and children inherit it).
"""

import os
import signal
import time
from dataclasses import dataclass
from typing import Optional

from vidaesthetic._internal.isolation import run_isolated
from vidaesthetic.errors import PathLike, VideoError
from vidaesthetic.video import open_video


def die_by(signal_number: int) -> None:
    os.kill(os.getpid(), signal_number)
    time.sleep(60)  # the signal ends the process before this ends


def sleep(seconds: float) -> None:
    time.sleep(seconds)


def exit_with(code: int) -> None:
    os._exit(code)


def refuse(path: str) -> None:
    raise VideoError("has no video stream", path)


def fail() -> None:
    raise ValueError("a bug")


def add(a: int, b: int, scale: int = 1) -> int:
    return (a + b) * scale


def environment(name: str) -> str:
    return os.environ.get(name, "")


def batch_work(job) -> str:
    """A batch's work function, by video name: ``crashes.mp4`` segfaults, ``bad.mp4`` fails, and
    ``waits.mp4`` runs until a second after ``crashes.mp4`` has started, so it is running when its pool breaks."""
    started = job.video.parent / "crashes.mp4 started"
    if job.video.name == "waits.mp4":
        deadline = time.monotonic() + 60
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(1)
    if job.video.name == "crashes.mp4":
        started.touch()
        die_by(signal.SIGSEGV)
    if job.video.name == "bad.mp4":
        refuse(str(job.video))
    return job.video.name


class Stubborn(Exception):
    """Pickles, but cannot be unpickled: its one ``args`` value does not fit ``__init__``."""

    def __init__(self, code: int, detail: str) -> None:
        super().__init__(f"{code}: {detail}")


def raise_stubborn() -> None:
    raise Stubborn(7, "native trouble")


def unpicklable_result() -> object:
    return lambda: None


@dataclass(frozen=True)
class DecodeCheck:
    """What decoding a whole video found."""

    frames: int
    corrupt_frames: int
    """Packets the decoder rejected and skipped."""


def _decode_all(path: PathLike, backend: str) -> DecodeCheck:
    frames = 0
    with open_video(path, backend=backend) as source:
        for batch in source.batches(batch_size=32, size=(32, 32)):
            frames += len(batch)
        return DecodeCheck(frames, source.corrupt_frames)


def check_decodable(path: PathLike, backend: str = "auto", timeout: Optional[float] = None) -> DecodeCheck:
    """Open and decode every frame of a video at 32 x 32 in a child process; ``timeout`` bounds it (None: no limit).

    Raises:
        VidaestheticError: the file cannot be opened or decoded, or the
            decoder crashed or timed out on it (:class:`VideoError`).
    """
    return run_isolated(_decode_all, path, backend, timeout=timeout, what="decoding it", path=path)
