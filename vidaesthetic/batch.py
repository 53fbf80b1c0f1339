"""Many videos: find them, give each its output folder, share them out, run them, sum up.

A library of videos is processed one folder per video. A video whose
``spots.json`` already matches the file is skipped unless forced, so an
interrupted run picks up where it stopped; a bad file is reported and the
rest go on. ``--jobs`` runs videos in parallel processes; ``--shard i/n``
(or the RANK / WORLD_SIZE that ``torchrun`` sets) gives each machine or GPU
its own share of the files.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from .curve import file_fingerprint
from .errors import InputError, PathLike, VidaestheticError
from .export import SPOTS_FILE

VIDEO_SUFFIXES = {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".mts", ".m2ts",
                  ".wmv", ".flv", ".3gp", ".ogv"}


@dataclass(frozen=True)
class Job:
    video: Path
    out_dir: Path


@dataclass
class BatchReport:
    done: List[Job] = field(default_factory=list)
    skipped: List[Job] = field(default_factory=list)
    failed: List[Tuple[Job, VidaestheticError]] = field(default_factory=list)

    def summary(self) -> str:
        return f"{len(self.done)} done, {len(self.skipped)} already done, {len(self.failed)} failed"


def plan_jobs(inputs: Sequence[PathLike], output: Optional[PathLike] = None, recursive: bool = False) -> List[Job]:
    """One job per video: files as given, folders scanned for video files.

    A single file goes to ``output`` (default ``STEM_spots``); several files
    go to ``output/STEM``; a folder's videos go to ``output`` (default
    ``FOLDER_spots``) under their path relative to the folder.
    """
    jobs: List[Job] = []
    files = [Path(p) for p in inputs if not Path(p).is_dir()]
    folders = [Path(p) for p in inputs if Path(p).is_dir()]
    several = len(files) > 1 or bool(folders)
    for video in files:
        if output is None:
            target = Path(f"{video.stem}_spots")
        else:
            target = Path(output) / video.stem if several else Path(output)
        jobs.append(Job(video, target))
    for folder in folders:
        videos = _videos_in(folder, recursive)
        if not videos:
            raise InputError(f"no video files here{'' if recursive else ' (use --recursive for subfolders)'}", folder)
        root = Path(output) if output is not None else Path(f"{folder.resolve().name}_spots")
        jobs.extend(Job(video, root / video.relative_to(folder).with_suffix("")) for video in videos)
    return jobs


def _videos_in(folder: Path, recursive: bool) -> List[Path]:
    pattern = "**/*" if recursive else "*"
    return sorted(p for p in folder.glob(pattern) if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def parse_shard(text: str) -> Tuple[int, int]:
    """``"i/n"`` (0-based i) -> (i, n)."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise InputError(f"--shard takes I/N, e.g. 0/4, not {text!r}") from None
    if not 0 <= index < count:
        raise InputError(f"--shard {text}: I must be from 0 to N-1")
    return index, count


def shard_from_environment() -> Tuple[int, int]:
    """This process's (rank, world size) under ``torchrun``, else (0, 1)."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def shard_jobs(jobs: Sequence[Job], index: int, count: int) -> List[Job]:
    """Every ``count``-th job starting at ``index``: shares that never overlap and together cover all."""
    return list(jobs[index::count])


HOUSEKEEPING = ("progress", "threads")
"""Settings that do not change results."""


def settings_digest(settings: Dict[str, Any]) -> str:
    """A stable text for the settings that shape a run's results (recorded in ``spots.json``)."""
    return json.dumps({k: v for k, v in settings.items() if k not in HOUSEKEEPING}, sort_keys=True, default=str)


def already_done(job: Job, settings: str) -> bool:
    """True when ``spots.json`` in the job's folder was made from this very file with these settings."""
    try:
        with open(job.out_dir / SPOTS_FILE, encoding="utf-8") as handle:
            document = json.load(handle)
        current = file_fingerprint(job.video)
    except (OSError, ValueError):
        return False
    recorded = document.get("source", {})
    same_file = all(recorded.get(key) == current[key] for key in ("path", "size", "mtime"))
    return same_file and document.get("settings") == settings


def run_jobs(jobs: Sequence[Job], work: Callable[[Job], Any], settings: str, parallel: int = 1, force: bool = False,
             on_result: Optional[Callable[[Job, Any, Optional[VidaestheticError]], None]] = None) -> BatchReport:
    """Run ``work`` on every job not already done with ``settings``, ``parallel`` at a time, collecting failures.

    ``work`` must be picklable (a module-level function or a partial of one)
    when ``parallel`` > 1: it runs in other processes. ``on_result`` is told
    of each outcome as it comes.
    """
    report = BatchReport()
    pending = []
    for job in jobs:
        if not force and already_done(job, settings):
            report.skipped.append(job)
        else:
            pending.append(job)

    def record(job: Job, result: Any, error: Optional[VidaestheticError]) -> None:
        (report.failed.append((job, error)) if error is not None else report.done.append(job))
        if on_result is not None:
            on_result(job, result, error)

    if parallel <= 1:
        for job in pending:
            try:
                record(job, work(job), None)
            except VidaestheticError as error:
                record(job, None, error)
        return report
    with ProcessPoolExecutor(max_workers=parallel, mp_context=get_context("spawn")) as pool:
        futures = {pool.submit(work, job): job for job in pending}
        for future in as_completed(futures):
            try:
                record(futures[future], future.result(), None)
            except VidaestheticError as error:
                record(futures[future], None, error)
    return report


def worker_threads(parallel: int) -> int:
    """Torch threads per worker so that ``parallel`` workers share the cores instead of fighting over them."""
    return max(1, (os.cpu_count() or 1) // max(1, parallel))
