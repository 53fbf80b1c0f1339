"""Advisory folder locks, so that two processes never write the same outputs at once.

Two runs writing into one output folder, or fetching weights into one cache,
take turns: the second waits for the first, then finds its work done (or
does it again, identically). The lock is taken on the folder itself, so no
lock file is left behind, and a lock held by a killed process is released by
the operating system.
"""

from __future__ import annotations

import contextlib
import os
from typing import Iterator

from ..errors import OutputError, PathLike

try:
    import fcntl
except ImportError:  # Windows: no advisory locks on folders; runs are then not serialised
    fcntl = None  # type: ignore[assignment]


@contextlib.contextmanager
def folder_lock(folder: PathLike) -> Iterator[None]:
    """Hold the lock of an existing ``folder`` for the duration of the block.

    The lock belongs to this open of the folder: a second lock of the same
    folder in the same process waits forever, so never nest them.
    """
    if fcntl is None:
        yield
        return
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError as error:
        raise OutputError(f"cannot lock the folder ({error.strerror})", folder) from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
    finally:
        os.close(handle)  # closing releases the lock
