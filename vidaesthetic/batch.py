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
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ._internal.isolation import run_isolated
from .curve.record import file_fingerprint
from .errors import InputError, PathLike, VidaestheticError
from .output.folder import SPOTS_FILE
from .settings import Job

VIDEO_SUFFIXES = {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".mts", ".m2ts",
                  ".wmv", ".flv", ".3gp", ".ogv"}


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
    return _distinct_folders(jobs)


def _distinct_folders(jobs: List[Job]) -> List[Job]:
    """Videos that would share a folder (``a.mkv`` and ``a.ts``) keep their suffix in its name."""
    folders = [job.out_dir for job in jobs]
    return [Job(job.video, job.out_dir.with_name(job.video.name)) if folders.count(job.out_dir) > 1 else job
            for job in jobs]


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
    text = f"{os.environ.get('RANK', '0')}/{os.environ.get('WORLD_SIZE', '1')}"
    try:
        return parse_shard(text)
    except InputError:
        raise InputError(f"RANK/WORLD_SIZE is {text}: both must be integers with 0 <= RANK < WORLD_SIZE") from None


def shard_jobs(jobs: Sequence[Job], index: int, count: int) -> List[Job]:
    """Every ``count``-th job starting at ``index``: shares that never overlap and together cover all."""
    return list(jobs[index::count])


def already_done(job: Job, settings: str) -> bool:
    """True when ``spots.json`` in the job's folder was made from this very file with the settings
    whose digest is ``settings`` (see :meth:`vidaesthetic.settings.SpotSettings.digest`)."""
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
             on_result: Optional[Callable[[Job, Any, Optional[VidaestheticError]], None]] = None,
             isolate: bool = False) -> BatchReport:
    """Run ``work`` on every job not already done with ``settings`` (a digest), ``parallel`` at a time,
    collecting failures.

    With ``parallel`` > 1, or ``isolate``, jobs run in worker processes, so
    a decoder that crashes its process (a segfault on a damaged file) fails
    only its own video, with a :class:`VideoError`: the jobs that were
    running when a worker died are rerun one by one in processes of their
    own to tell which one crashed, and the rest go on in a new pool.
    ``work`` must then be picklable (a module-level function or a partial
    of one). With ``parallel`` == 1 and no ``isolate``, jobs run in this
    process: no process overhead, but a crash ends the run. ``on_result``
    is told of each outcome as it comes.
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

    if parallel <= 1 and not isolate:
        for job in pending:
            try:
                record(job, work(job), None)
            except VidaestheticError as error:
                record(job, None, error)
        return report
    queue = deque(pending)
    parallel = max(1, parallel)
    while queue:
        # At most ``parallel`` jobs are submitted at once, so when a worker dies only those are suspects.
        suspects: List[Job] = []
        with ProcessPoolExecutor(max_workers=parallel, mp_context=get_context("spawn")) as pool:
            running: Dict[Future, Job] = {}
            broken = False
            while running or (queue and not broken):
                while queue and not broken and len(running) < parallel:
                    try:
                        future = pool.submit(work, queue[0])
                    except BrokenProcessPool:  # a worker died between jobs: go on in a new pool
                        broken = True
                        break
                    running[future] = queue.popleft()
                if not running:
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    job = running.pop(future)
                    try:
                        record(job, future.result(), None)
                    except VidaestheticError as error:
                        record(job, None, error)
                    except BrokenProcessPool:
                        suspects.append(job)
                        broken = True
        for job in suspects:
            try:
                record(job, run_isolated(work, job, what="processing it", path=job.video), None)
            except VidaestheticError as error:
                record(job, None, error)
    return report


def worker_threads(parallel: int) -> int:
    """Torch threads per worker so that ``parallel`` workers share the cores instead of fighting over them."""
    return max(1, (os.cpu_count() or 1) // max(1, parallel))
