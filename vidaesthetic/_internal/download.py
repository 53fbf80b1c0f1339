"""Fetching released model files over HTTP(S), resumably and verified.

A download is written to ``<destination>.part`` beside its destination and
renamed into place only after its size and git blob SHA-1 check out, so a
failed or interrupted fetch never leaves a file that a later run would trust;
an interrupted one resumes from the ``.part`` with an HTTP Range request.
The retry policy (:func:`with_retries`) is shared with training's image downloads.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import random
import socket
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import BinaryIO, Callable, Optional, Tuple, Type, TypeVar

from tqdm import tqdm

from ..errors import OutputError, PathLike, VidaestheticError
from .atomic import make_writable_directory

T = TypeVar("T")

PART_SUFFIX = ".part"
_CHUNK = 1 << 20
_BACKOFF_S = 0.5  # first wait between attempts; doubles each time
_ADVICE = "check your connection, or download the files yourself and use `vidaesthetic weights import`"
# Failures worth another attempt; refused connections and DNS errors are not
# (offline, they only delay the fallback to the baseline model).
_TRANSIENT = (ConnectionResetError, ConnectionAbortedError, socket.timeout, TimeoutError, http.client.HTTPException)


class DownloadError(VidaestheticError):
    """A file that could not be downloaded, or arrived corrupted (exit code 1)."""

    exit_code = 1


class GaveUp(Exception):
    """A request that failed for good: why (see :func:`failure_reason`) and after how many attempts."""

    def __init__(self, reason: str, attempts: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.attempts = attempts


def with_retries(attempt: Callable[[], T], retries: int,
                 errors: Tuple[Type[BaseException], ...] = (OSError, http.client.HTTPException)) -> T:
    """``attempt()``, tried again up to ``retries`` times while it fails transiently (see :func:`is_transient`).

    Waits grow exponentially, with jitter so that workers that failed
    together do not all try again together. Failures other than ``errors``
    propagate at once.

    Raises:
        GaveUp: the last failure was not transient, or no attempt was left.
    """
    failed = 0
    while True:
        try:
            return attempt()
        except errors as exc:
            if isinstance(exc, urllib.error.HTTPError):
                exc.close()
            if failed == retries or not is_transient(exc):
                raise GaveUp(failure_reason(exc), failed + 1) from None
        time.sleep(_BACKOFF_S * 2**failed * random.uniform(0.5, 1.5))
        failed += 1


def git_blob_sha1(path: PathLike) -> str:
    """The id ``git hash-object`` gives the file, which is how the release's files are pinned."""
    with open(path, "rb") as file:
        digest = hashlib.sha1(b"blob %d\0" % os.fstat(file.fileno()).st_size)
        for chunk in iter(lambda: file.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(
    url: str,
    destination: PathLike,
    *,
    git_blob: Optional[str] = None,
    size: Optional[int] = None,
    progress: Optional[bool] = None,
    timeout: float = 30.0,
    retries: int = 3,
) -> Path:
    """Download ``url`` to ``destination`` and return its path.

    An existing destination that matches ``git_blob`` and ``size`` (those
    given) is returned without touching the network. Transient failures are
    retried ``retries`` times with exponential back-off, each attempt resuming
    from what has arrived. ``progress`` shows a bar on stderr (default: only
    on a terminal).
    """
    destination = Path(destination)
    if destination.is_file() and _mismatch(destination, git_blob, size) is None:
        return destination
    _ensure_writable(destination)
    part = destination.with_name(destination.name + PART_SUFFIX)
    show = sys.stderr.isatty() if progress is None else progress
    with tqdm(desc=destination.name, total=size, unit="B", unit_scale=True, file=sys.stderr, disable=not show) as bar:
        try:
            with_retries(lambda: _fetch(url, part, timeout, bar), retries)
        except GaveUp as failure:
            tries = f", after {failure.attempts} attempts" if failure.attempts > 1 else ""
            raise DownloadError(f"cannot download {url} ({failure.reason}{tries}); {_ADVICE}") from None
    problem = _mismatch(part, git_blob, size)
    if problem is not None:
        part.unlink()
        raise DownloadError(f"the download of {url} was corrupted ({problem}) and has been deleted; run the command again")
    os.replace(part, destination)
    return destination


def _fetch(url: str, part: Path, timeout: float, bar: tqdm) -> None:
    """One attempt: resume ``part`` if it exists, else start it; network errors propagate."""
    offset = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "vidaesthetic"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 416 and offset:
            return  # nothing left past ``offset``: perhaps complete, verification decides
        raise
    with response:
        if response.status != 206:
            offset = 0  # the server ignored the Range: start again
        length = response.headers.get("Content-Length", "")
        expected = int(length) if length.isdigit() else None
        bar.reset(total=bar.total or (offset + expected if expected is not None else None))
        bar.update(offset)
        received = 0
        with _open_part(part, "ab" if offset else "wb") as out:
            for chunk in iter(lambda: response.read1(_CHUNK), b""):
                _write(out, chunk, part)
                received += len(chunk)
                bar.update(len(chunk))
    if expected is not None and received < expected:
        # http.client reports a connection closed early as a short read, not an error.
        raise ConnectionResetError(f"connection closed after {offset + received} of {offset + expected} bytes")


def _open_part(part: Path, mode: str) -> BinaryIO:
    try:
        return open(part, mode)
    except OSError as exc:
        raise OutputError(f"cannot write ({exc.strerror})", part) from None


def _write(out: BinaryIO, chunk: bytes, part: Path) -> None:
    """Write, reporting a full or failing disk as an output problem, not a network one."""
    try:
        out.write(chunk)
    except OSError as exc:
        raise OutputError(f"cannot write ({exc.strerror})", part) from None


def _ensure_writable(destination: Path) -> None:
    if destination.is_dir():
        raise OutputError("download destination is a directory", destination)
    make_writable_directory(destination.parent, "download directory")


def _mismatch(path: Path, git_blob: Optional[str], size: Optional[int]) -> Optional[str]:
    """What is wrong with ``path`` against the expected size and blob id, or None."""
    actual = path.stat().st_size
    if size is not None and actual != size:
        return f"{actual} bytes, expected {size}"
    if git_blob is not None and git_blob_sha1(path) != git_blob.lower():
        return "git blob SHA-1 does not match"
    return None


def is_transient(exc: BaseException) -> bool:
    """Worth retrying: resets, timeouts, 5xx, 408 and 429. Refused connections and 4xx fail at once."""
    if isinstance(exc, urllib.error.HTTPError):
        return exc.code >= 500 or exc.code in (408, 429)
    if isinstance(exc, urllib.error.URLError):
        return isinstance(exc.reason, _TRANSIENT) and not isinstance(exc.reason, http.client.InvalidURL)
    return isinstance(exc, _TRANSIENT) and not isinstance(exc, http.client.InvalidURL)


def failure_reason(exc: BaseException) -> str:
    """A short description of a failed request, without the URL, so that failures can be counted by kind."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        if not isinstance(exc.reason, BaseException):
            return str(exc.reason)
        exc = exc.reason
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, (ValueError, http.client.InvalidURL)):
        return "invalid URL"
    return getattr(exc, "strerror", None) or type(exc).__name__
