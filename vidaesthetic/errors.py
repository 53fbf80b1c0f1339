"""Errors a user can act on.

Every failure that a user's input can cause is a :class:`VidaestheticError`;
the CLI prints it as one line and exits with its ``exit_code``. Anything else
that escapes is a bug in vidaesthetic.
"""

from __future__ import annotations

import os
from typing import Optional, Union

PathLike = Union[str, "os.PathLike[str]"]


class VidaestheticError(Exception):
    """A failure with a message meant for the user (exit code 1)."""

    exit_code = 1

    def __init__(self, message: str, path: Optional[PathLike] = None) -> None:
        self.path = os.fspath(path) if path is not None else None
        self.message = message
        super().__init__(f"{self.path}: {message}" if self.path else message)


class InputError(VidaestheticError):
    """Bad input: a missing, unreadable or undecodable file, or a bad option (exit code 2)."""

    exit_code = 2


class VideoError(InputError):
    """A file that cannot be opened or decoded as a video."""


class BackendUnavailable(InputError):
    """A decoding backend that is not installed or cannot load here."""


class ModelError(VidaestheticError):
    """A model or weights file that cannot be resolved or loaded."""

    exit_code = 2


class OutputError(VidaestheticError):
    """An output location that cannot be written."""

    exit_code = 2
