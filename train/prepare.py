"""Download the images of an AROD list into a data directory that training reads.

Layout: ``images/<id[:2]>/<id>.jpg`` (256 subdirectories keep directories
small) and ``manifest.csv`` with paths relative to the data directory, so the
directory can be moved or copied whole. Every file is written to a temporary
name and renamed into place, so a file at its final name is complete; a rerun
therefore only fetches what is missing (earlier failures are tried again).
The manifest is also rewritten every minute during a run, so the images of a
killed run can be used before it is resumed.
"""

from __future__ import annotations

import csv
import functools
import http.client
import io
import sys
import time
import urllib.parse
import urllib.request
import warnings
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional

from PIL import Image
from tqdm import tqdm

from vidaesthetic._internal.atomic import check_output_directory, clean_stale_temporaries, replacing
from vidaesthetic._internal.download import GaveUp, with_retries
from vidaesthetic._internal.images import upright_rgb
from vidaesthetic.errors import InputError, OutputError, PathLike

from .arod import Record, parse_list, score_histogram

MANIFEST = "manifest.csv"
IMAGES = "images"
FIELDS = ("id", "path", "faves", "views", "score", "status", "error")
JPEG_QUALITY = 95
# Seconds between manifest rewrites during a run. By time, not by count: each
# rewrite costs the whole list (380K rows), so a count would make a run quadratic.
_CHECKPOINT_S = 60.0
_QUEUE_PER_WORKER = 4  # tasks submitted ahead per worker: keeps memory flat on 380K rows
# Flickr answers a removed photo with a redirect to this placeholder image,
# which decodes fine and would otherwise be stored under the photo's score.
_FLICKR_PLACEHOLDER = "photo_unavailable"


@dataclass
class PrepareReport:
    """What a :func:`prepare` run did."""

    manifest: Path
    fetched: int = 0  # downloaded (or copied) and stored by this run
    present: int = 0  # already on disk and valid
    failures: Counter[str] = field(default_factory=Counter)  # failed images by short error
    skipped: Counter[str] = field(default_factory=Counter)  # list rows skipped, by reason
    histogram: str = ""  # of S over the images that are ok

    @property
    def ok(self) -> int:
        return self.fetched + self.present

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    def summary(self) -> str:
        """A few lines for the command line."""
        lines = [f"{self.ok} images ok ({self.fetched} fetched, {self.present} already present), {self.failed} failed"]
        lines += [f"  failed: {count} {error}" for error, count in self.failures.most_common(5)]
        if self.skipped:
            lines.append("list rows skipped: " + ", ".join(f"{n} {reason}" for reason, n in self.skipped.most_common()))
        lines += ["S of the ok images:", self.histogram, f"manifest: {self.manifest}"]
        return "\n".join(lines)


@dataclass(frozen=True)
class ManifestRow:
    """One usable image of a prepared data directory."""

    id: str
    path: Path  # absolute
    faves: int
    views: int
    score: float


@dataclass(frozen=True)
class _Result:
    record: Record
    status: str  # "fetched", "present" or "failed"
    error: str = ""


class _Failure(Exception):
    """An image that cannot be had; the message is the short error for the manifest."""


def prepare(
    list_path: PathLike,
    out_dir: PathLike,
    *,
    workers: int = 8,
    retries: int = 3,
    max_side: Optional[int] = None,
    timeout: float = 20.0,
    progress: Optional[bool] = None,
) -> PrepareReport:
    """Fetch every usable image of the list at ``list_path`` into ``out_dir`` and write its manifest.

    URLs may be ``http(s)://``, ``file://`` or plain paths (relative ones
    are taken from the list's directory). Transient failures (connection
    errors, timeouts, HTTP 5xx, 408, 429) are retried ``retries`` times with
    exponential back-off; other failures are recorded and the run goes on.
    Images are stored as JPEG: JPEGs that need no change byte for byte,
    anything else (and anything larger than ``max_side`` on its longest side)
    re-encoded at quality 95. ``progress`` shows a bar on stderr (default:
    only on a terminal).
    """
    _check_options(workers, retries, max_side, timeout)
    listing = parse_list(list_path)
    out_dir = Path(out_dir)
    check_output_directory(out_dir)
    images = out_dir / IMAGES
    _make_directory(images)
    for subdirectory in images.iterdir():
        clean_stale_temporaries(subdirectory)
    report = PrepareReport(manifest=out_dir / MANIFEST, skipped=listing.skipped)
    results: dict[str, _Result] = {}
    one = functools.partial(
        _prepare_one, out_dir=out_dir, base_dir=listing.path.parent, max_side=max_side, timeout=timeout, retries=retries
    )
    show = sys.stderr.isatty() if progress is None else progress
    checkpoint = time.monotonic()
    with tqdm(total=len(listing.records), desc="images", unit="img", file=sys.stderr, disable=not show) as bar:
        for result in _map_bounded(one, listing.records, workers):
            results[result.record.id] = result
            if result.status == "fetched":
                report.fetched += 1
            elif result.status == "present":
                report.present += 1
            else:
                report.failures[result.error] += 1
            bar.set_postfix(failed=report.failed, refresh=False)
            bar.update()
            if time.monotonic() - checkpoint >= _CHECKPOINT_S:
                _write_manifest(out_dir, listing.records, results)
                checkpoint = time.monotonic()
    _write_manifest(out_dir, listing.records, results)
    report.histogram = score_histogram(r.record.score for r in results.values() if r.status != "failed")
    return report


def image_path(record_id: str) -> Path:
    """Where an image is stored, relative to the data directory."""
    return Path(IMAGES, record_id[:2], f"{record_id}.jpg")


def load_manifest(data_dir: PathLike, *, max_missing: float = 0.01) -> list[ManifestRow]:
    """The ok images of a prepared data directory, with paths resolved against ``data_dir``.

    A few missing image files are left out with a warning; more than
    ``max_missing`` of them (a directory moved or copied without its
    ``images/``, say) raise :class:`InputError`, as do a missing or
    unreadable manifest and one without any ok image.
    """
    data_dir = Path(data_dir).resolve()
    manifest = data_dir / MANIFEST
    if not manifest.is_file():
        raise InputError(f"no {MANIFEST}: prepare this data directory first (python -m train prepare)", data_dir)
    rows = _read_manifest(manifest, data_dir)
    if not rows:
        raise InputError("lists no downloaded image", manifest)
    present = [row for row in rows if row.path.is_file()]
    missing = len(rows) - len(present)
    if missing > max_missing * len(rows):
        first = next(row.path for row in rows if not row.path.is_file())
        raise InputError(
            f"{missing} of the {len(rows)} images it lists are missing (first: {first}); "
            f"was the directory moved without its {IMAGES}/ folder? Prepare it again to fetch them",
            manifest,
        )
    if missing:
        warnings.warn(f"{missing} images listed in {manifest} are missing and left out", stacklevel=2)
    return present


def _read_manifest(manifest: Path, data_dir: Path) -> list[ManifestRow]:
    rows = []
    try:
        with open(manifest, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if not set(FIELDS) <= set(reader.fieldnames or ()):
                raise InputError(f"not a manifest: expected the columns {','.join(FIELDS)}", manifest)
            for row in reader:
                if row["status"] != "ok":
                    continue
                try:
                    rows.append(
                        ManifestRow(row["id"], data_dir / row["path"], int(row["faves"]), int(row["views"]), float(row["score"]))
                    )
                except (TypeError, ValueError):
                    raise InputError(f"line {reader.line_num}: malformed row", manifest) from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"cannot read ({getattr(exc, 'strerror', None) or exc})", manifest) from None
    return rows


def _check_options(workers: int, retries: int, max_side: Optional[int], timeout: float) -> None:
    if workers < 1:
        raise InputError(f"workers must be at least 1, not {workers}")
    if retries < 0:
        raise InputError(f"retries must be at least 0, not {retries}")
    if max_side is not None and max_side < 1:
        raise InputError(f"max_side must be at least 1, not {max_side}")
    if timeout <= 0:
        raise InputError(f"timeout must be positive, not {timeout}")


def _map_bounded(fn: Callable[[Record], _Result], items: Iterable[Record], workers: int) -> Iterator[_Result]:
    """``fn`` over ``items`` on ``workers`` threads, results as they complete, few tasks queued at a time."""
    pool = ThreadPoolExecutor(workers)
    pending: set[Future[_Result]] = set()
    try:
        for item in items:
            if len(pending) >= workers * _QUEUE_PER_WORKER:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                yield from (future.result() for future in done)
            pending.add(pool.submit(fn, item))
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            yield from (future.result() for future in done)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _prepare_one(
    record: Record, *, out_dir: Path, base_dir: Path, max_side: Optional[int], timeout: float, retries: int
) -> _Result:
    """Make sure one image is stored; only a disk that cannot be written raises."""
    target = out_dir / image_path(record.id)
    if target.is_file():
        stored = target.read_bytes()
        try:
            shrunk = _encode(stored, max_side)
        except _Failure:
            pass  # damaged since it was written (a partial copy of the directory, say): fetch it again
        else:
            if shrunk is not None:  # stored by a run without max_side, or a larger one
                _write_atomic(target, shrunk)
            return _Result(record, "present")
    try:
        data = _fetch(record.url, base_dir, timeout, retries)
        encoded = _encode(data, max_side)
    except _Failure as failure:
        return _Result(record, "failed", str(failure))
    _write_atomic(target, data if encoded is None else encoded)
    return _Result(record, "fetched")


def _encode(data: bytes, max_side: Optional[int]) -> Optional[bytes]:
    """The JPEG to store for image bytes ``data``, or None when ``data`` can be stored as it is.

    Decoding the whole image is the check that it is one. Re-encoding first
    makes the picture upright RGB as inference loads it, since the JPEG written
    carries no EXIF orientation, transparency or 16-bit depth.
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            if image.format == "JPEG" and (max_side is None or max(image.size) <= max_side):
                return None
            rgb = upright_rgb(image)  # as inference will see it: the JPEG keeps no alpha, EXIF or 16 bits
    except Image.DecompressionBombError:
        raise _Failure("image too large") from None
    except Exception:  # Pillow raises many kinds of exception on data that is not an image
        raise _Failure("not an image") from None
    if max_side is not None:
        rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    rgb.save(buffer, "JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def _fetch(url: str, base_dir: Path, timeout: float, retries: int) -> bytes:
    """The bytes at ``url``, retrying transient failures with exponential back-off."""
    try:
        # ValueError: a malformed URL
        return with_retries(lambda: _read(url, base_dir, timeout), retries,
                            (OSError, http.client.HTTPException, ValueError))
    except GaveUp as failure:
        tries = f" (after {failure.attempts} attempts)" if failure.attempts > 1 else ""
        raise _Failure(failure.reason + tries) from None


def _read(url: str, base_dir: Path, timeout: float) -> bytes:
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme in ("http", "https"):
        request = urllib.request.Request(url, headers={"User-Agent": "vidaesthetic"})
        with urllib.request.urlopen(request, timeout=timeout) as response:
            if _FLICKR_PLACEHOLDER in urllib.parse.urlsplit(response.geturl()).path:
                raise _Failure("photo unavailable (redirected to a placeholder)")
            return response.read()  # a short body raises http.client.IncompleteRead
    if scheme == "file":
        return Path(urllib.request.url2pathname(urllib.parse.urlsplit(url).path)).read_bytes()
    if "://" in url:
        raise _Failure(f"unsupported URL scheme {scheme!r}")
    return (base_dir / url).read_bytes()



def _make_directory(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create directory ({exc.strerror})", directory) from None


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary beside ``path``, then rename it into place."""
    _make_directory(path.parent)
    try:
        with replacing(path) as temp:
            temp.write_bytes(data)
    except OSError as exc:
        raise OutputError(f"cannot write ({exc.strerror})", path) from None


def _write_manifest(out_dir: Path, records: list[Record], results: dict[str, _Result]) -> None:
    """Rewrite the manifest with the results so far, in list order."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(FIELDS)
    for record in records:
        result = results.get(record.id)
        if result is None:
            continue
        ok = result.status != "failed"
        path = image_path(record.id).as_posix() if ok else ""
        status = "ok" if ok else "failed"
        writer.writerow((record.id, path, record.faves, record.views, repr(record.score), status, result.error))
    _write_atomic(out_dir / MANIFEST, buffer.getvalue().encode("utf-8"))
