"""The best photographs of a ranking, copied or linked into a folder of their own (``rank --copy-to/--link-to``)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import List, Optional

from .._internal.atomic import OutputSet, clean_stale_temporaries
from ..apps.rank import RankReport
from ..errors import InputError, OutputError, PathLike

COPY_MODES = ("copy", "link")


def copy_ranked(report: RankReport, destination: PathLike, *, top: Optional[int] = None,
                mode: str = "copy") -> List[Path]:
    """Copy or symlink the best ``top`` images (all when None) into ``destination``, best first.

    Names are ``001_<original name>``: they sort by rank, and the prefix makes
    them unique even when images from different folders share a name. Links
    point to absolute paths so they survive moving the folder. Either every
    file appears or, on any failure, none does.

    Returns:
        The written paths, best first.
    """
    if mode not in COPY_MODES:
        raise InputError(f"unknown copy mode {mode!r}; use one of {', '.join(COPY_MODES)}")
    if top is not None and top < 1:
        raise InputError("top must be at least 1")
    best = report.ranked[:top]
    digits = max(3, len(str(len(best))))
    written = []
    with OutputSet(destination) as outputs:
        clean_stale_temporaries(destination)
        for image in best:
            name = f"{image.rank:0{digits}d}_{image.path.name}"
            temp = outputs.reserve(name)
            try:
                if mode == "copy":
                    shutil.copy2(image.path, temp)
                else:
                    temp.unlink()
                    temp.symlink_to(image.path.resolve())
            except OSError as error:
                reason = error.strerror or str(error)
                raise OutputError(f"cannot {mode} it into {destination} ({reason})", image.path) from None
            written.append(Path(destination) / name)
    return written
