"""AROD image lists (``url;faves;views``, no header) and the paper's score S = log F / log V.

The lists are scraped and large (~380K rows), so parsing keeps going past bad
rows and reports how many it skipped and why, instead of stopping at the first.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

import numpy as np

from vidaesthetic.errors import InputError, PathLike


def aesthetic_score(faves: int, views: int) -> Optional[float]:
    """S = log F / log V, or None where it is undefined or the counts cannot be true.

    Undefined for V <= 1 (log V <= 0) and F <= 0 (log F). F > V is refused
    too: a fave needs a view, so such counts are corrupt, and their S > 1 lies
    outside the [0, 1] range the model is trained on. F == 1 gives S = 0.
    """
    if views <= 1 or faves <= 0 or faves > views:
        return None
    return math.log(faves) / math.log(views)


def record_id(url: str) -> str:
    """A short id that names the image file: the same URL gets the same id in every run and list."""
    return hashlib.sha1(url.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Record:
    """One usable list row."""

    id: str
    url: str
    faves: int
    views: int
    score: float


@dataclass
class ListReport:
    """The usable rows of a list, in list order, and the other rows counted by why they were skipped."""

    path: Path
    records: list[Record]
    skipped: Counter[str]


class _Skip(Exception):
    """A row that is not used; the message is the reason it is counted under."""


def parse_list(path: PathLike) -> ListReport:
    """Read an AROD list; raise :class:`InputError` naming the file if no row is usable.

    Skipped rows are counted as "blank", "comment" (``#``), "malformed" (not
    three fields, counts that are not non-negative integers, no URL, not
    UTF-8), "undefined score" (see :func:`aesthetic_score`) or "duplicate url"
    (the first row wins). The URL is everything before the last two ``;``, so
    URLs that contain ``;`` survive.
    """
    path = Path(path)
    records: list[Record] = []
    skipped: Counter[str] = Counter()
    seen: set[str] = set()
    try:
        with open(path, "rb") as handle:
            for raw in handle:
                try:
                    record = _parse_row(raw)
                    if record.id in seen:
                        raise _Skip("duplicate url")
                except _Skip as skip:
                    skipped[str(skip)] += 1
                    continue
                seen.add(record.id)
                records.append(record)
    except OSError as exc:
        raise InputError(f"cannot read the image list ({exc.strerror or exc})", path) from None
    if not records:
        reasons = ", ".join(f"{count} {reason}" for reason, count in skipped.most_common()) or "empty file"
        raise InputError(f"no usable url;faves;views rows ({reasons})", path)
    return ListReport(path, records, skipped)


def _parse_row(raw: bytes) -> Record:
    try:
        line = raw.decode("utf-8-sig").strip()
    except UnicodeDecodeError:
        raise _Skip("malformed") from None
    if not line:
        raise _Skip("blank")
    if line.startswith("#"):
        raise _Skip("comment")
    fields = [field.strip() for field in line.rsplit(";", 2)]
    if len(fields) != 3 or not fields[0] or not all(_is_count(field) for field in fields[1:]):
        raise _Skip("malformed")
    url, faves, views = fields[0], int(fields[1]), int(fields[2])
    score = aesthetic_score(faves, views)
    if score is None:
        raise _Skip("undefined score")
    return Record(record_id(url), url, faves, views, score)


def _is_count(text: str) -> bool:
    """ASCII digits only: ``int`` alone would also take "-3", "+3", "1_000" and non-ASCII digits."""
    return text.isascii() and text.isdigit()


def score_histogram(scores: Iterable[float], bins: int = 10, width: int = 40) -> str:
    """A text histogram of S over [0, 1], one line per bin.

    The paper reports S as roughly uniform, so a glance at this shows whether
    a list (or what could be downloaded of it) still looks like AROD.
    """
    counts, edges = np.histogram(np.fromiter(scores, dtype=float), bins=bins, range=(0.0, 1.0))
    peak = max(int(counts.max()), 1)
    lines = []
    for low, high, count in zip(edges, edges[1:], counts):
        bar = "#" * (max(1, round(width * count / peak)) if count else 0)
        lines.append(f"{low:.2f}-{high:.2f} {bar:<{width}} {count}")
    return "\n".join(lines)
