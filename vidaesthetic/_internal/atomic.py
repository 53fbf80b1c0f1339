"""Outputs that appear complete or not at all.

Every file is first written under a hidden temporary name in its final
directory and renamed into place only when the whole run has succeeded, so a
failed or interrupted run never leaves a file that looks finished.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path
from contextlib import contextmanager
from typing import Iterator, List, Tuple

from ..errors import OutputError, PathLike
from .locks import folder_lock

TEMP_SUFFIX = ".vidaesthetic-tmp"

# Errors that say the output location cannot take the files: the user's to fix, not a bug.
_NO_ROOM = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS}


def _file_mode() -> int:
    """Permissions a plainly created file would get (mkstemp makes them private)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


_FILE_MODE = _file_mode()


def check_output_directory(directory: PathLike) -> None:
    """Raise :class:`OutputError` now if ``directory`` could not be created or written later.

    Lets a command refuse a bad output location before it spends time decoding.
    """
    directory = Path(directory)
    existing = directory
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        problem = "exists and is not a directory" if existing == directory else f"cannot be created ({existing} is a file)"
        raise OutputError(f"output path {problem}", directory)
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError("output directory is not writable", directory)


def make_writable_directory(folder: PathLike, what: str = "output directory", hint: str = "") -> Path:
    """Create ``folder`` if needed and check that this process can write there (else :class:`OutputError`)."""
    folder = Path(folder)
    suffix = f"; {hint}" if hint else ""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"cannot create the {what} ({error.strerror}){suffix}", folder) from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"the {what} is not writable{suffix}", folder)
    return folder


class OutputSet:
    """A group of output files committed together.

    Use as a context manager: files reserved with :meth:`reserve` are renamed
    to their final names when the block ends normally, and removed (with the
    directory, if this set created it) when it raises. While the block runs
    it holds the directory's lock (see :mod:`vidaesthetic._internal.locks`), so two
    processes writing into one folder take turns and never mix their files.
    """

    def __init__(self, directory: PathLike) -> None:
        self.directory = Path(directory)
        self._created: List[Path] = []
        self._pending: List[Tuple[Path, Path]] = []

    def __enter__(self) -> "OutputSet":
        self._make_directory()
        self._lock = folder_lock(self.directory)
        self._lock.__enter__()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self.commit()
            else:
                self.discard()
                if isinstance(exc, OSError) and exc.errno in _NO_ROOM:
                    raise OutputError(f"cannot write ({exc.strerror})", self.directory) from None
        finally:
            self._lock.__exit__(None, None, None)

    def _make_directory(self) -> None:
        check_output_directory(self.directory)
        missing = []
        probe = self.directory
        while not probe.exists():
            missing.append(probe)
            probe = probe.parent
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create output directory ({exc.strerror})", self.directory) from None
        self._created = missing

    def reserve(self, name: str) -> Path:
        """A temporary path to write the file that will be called ``name``."""
        final = self.directory / name
        if final.resolve().parent != self.directory.resolve():
            raise OutputError("output names must stay inside the output directory", final)
        try:
            temp = _temporary_beside(final)
        except OSError as exc:
            raise OutputError(f"cannot write ({exc.strerror})", final) from None
        self._pending.append((temp, final))
        return temp

    def commit(self) -> None:
        for temp, final in self._pending:
            if not temp.is_symlink():  # chmod follows links: it would change the file linked to
                os.chmod(temp, _FILE_MODE)
            os.replace(temp, final)
        self._pending = []

    def discard(self) -> None:
        for temp, _ in self._pending:
            try:
                temp.unlink()
            except FileNotFoundError:
                pass
        self._pending = []
        self._remove_created(self._created)

    @staticmethod
    def _remove_created(created: List[Path]) -> None:
        """Remove directories this set created (deepest first), stopping at any that is not empty."""
        for directory in created:
            try:
                directory.rmdir()
            except OSError:
                break


def _temporary_beside(final: Path) -> Path:
    """A new, empty, hidden file in ``final``'s folder, named so that :func:`clean_stale_temporaries` finds it."""
    handle, temp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=TEMP_SUFFIX, dir=final.parent)
    os.close(handle)
    return Path(temp)


@contextmanager
def replacing(path: PathLike) -> Iterator[Path]:
    """A temporary beside ``path`` to write; it replaces ``path`` when the block ends, and is removed if it raises.

    A reader sees the old file or the new one, never part of one, and a
    crash leaves the old file intact. One file on its own; for a group of
    files that must appear together use :class:`OutputSet`. An ``OSError``
    (a full disk, say) propagates for the caller to report.
    """
    path = Path(path)
    temp = _temporary_beside(path)
    try:
        yield temp
        os.chmod(temp, _FILE_MODE)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def clean_stale_temporaries(directory: PathLike) -> int:
    """Remove temporaries an earlier killed run left behind; returns how many."""
    removed = 0
    for leftover in Path(directory).glob(f".*{TEMP_SUFFIX}"):
        try:
            leftover.unlink()
            removed += 1
        except OSError:
            pass
    return removed
