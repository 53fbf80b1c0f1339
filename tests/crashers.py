"""Work that misbehaves, for the crash-isolation tests.

Child processes must import what they run, so these live in a module of
their own (``tests/`` is on ``sys.path`` under pytest, and children inherit it).
"""

import os
import signal
import time

from vidaesthetic.errors import VideoError


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
