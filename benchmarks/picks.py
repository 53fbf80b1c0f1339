"""Would a person pick these frames? Spots measured against hand labels.

    python benchmarks/picks.py                               # the fixture clips and their labels
    python benchmarks/picks.py VIDEOS_DIR --labels L.json    # your clips, labelled the same way
    python benchmarks/picks.py --fast --model baseline       # any model, any mode
    python benchmarks/picks.py --composed                    # plus a clip edited from the fixtures

A labels file (``../shared/fixtures/labels.json`` is one) maps a clip's file
stem to ``{"bad": [[start, end], ...], "shots": [[start, end], ...]}`` in
seconds: bad intervals are where a key frame would be a defect (a fade,
defocus, a covered lens), shots are the usable shots a good picker covers
when given enough spots. A clip not listed is one clean shot.

For every clip, ``extract_spots`` runs with the automatic count, then with
each ``--top`` (reusing the scores), and the benchmark reports:

- defects: spots inside a bad interval;
- over-rejection: the share of clean frames marked never pickable, where
  clean means outside the bad intervals and the margins no one picks from
  (``EDGE`` seconds at either end, ``CUT_MARGIN`` around a labelled cut);
- edge spots: spots within ``EDGE`` seconds of the first or last frame, on
  clips longer than ``EDGE_CLIP`` seconds;
- shot coverage: labelled shots that got a spot, out of min(shots, spots);
- for each ``--top N``: the spots written, and whether that is N where N is
  demanded: clips at least 2·N·min-gap seconds long whose labels (if they list
  shots) list at least N usable shots;
- duplicate pairs: pairs of spots (automatic and each ``--top``) whose written
  images show the same picture: perceptual hashes of the full-resolution
  images within the library's limit, or the model's embeddings of them more
  similar than ``--max-similarity`` (0.95);
- failures: clips that raised instead of giving spots.

Results go to ``--out`` (``benchmarks/results/``): ``picks.json``, ``picks.md``,
and each clip's output folder under ``picks/`` to look at (plot, key frames).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
from tables import markdown_table

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parent.parent / "shared" / "fixtures"
VIDEO_SUFFIXES = {".mp4", ".mkv", ".avi", ".mov", ".webm", ".m4v"}
EDGE = 0.5
"""Seconds at either end of a clip where a spot counts as an edge pick."""
EDGE_CLIP = 3.0
"""Clips up to this long are too short to hold the edge target."""
CUT_MARGIN = 0.25
"""Seconds around a labelled cut left out of the clean frames."""
TARGETS = {"defects": 0, "failures": 0, "over_rejection": 0.10, "edge_clips": 0.10, "coverage": 0.90}

Interval = Tuple[float, float]


@dataclass
class ClipLabels:
    bad: List[Interval] = field(default_factory=list)
    shots: List[Interval] = field(default_factory=list)
    """Empty: one shot over the whole clip."""


def load_labels(path: Optional[Path]) -> Dict[str, ClipLabels]:
    """Labels by file stem; keys starting with ``_`` are comments."""
    if path is None:
        return {}
    document = json.loads(path.read_text(encoding="utf-8"))
    return {
        stem: ClipLabels(bad=[tuple(span) for span in entry.get("bad", [])],
                         shots=[tuple(span) for span in entry.get("shots", [])])
        for stem, entry in document.items() if not stem.startswith("_")
    }


def _inside(times: np.ndarray, spans: Sequence[Interval]) -> np.ndarray:
    hit = np.zeros(len(times), dtype=bool)
    for start, end in spans:
        hit |= (times >= start) & (times <= end)
    return hit


def labelled_cuts(shots: Sequence[Interval]) -> List[float]:
    """Where one labelled shot ends as the next begins (no bad interval between them)."""
    ordered = sorted(shots)
    return [after[0] for before, after in zip(ordered, ordered[1:]) if after[0] - before[1] <= CUT_MARGIN]


def clip_metrics(labels: ClipLabels, times: np.ndarray, pickable: np.ndarray, spot_times: Sequence[float]) -> Dict[str, Any]:
    """The pick-quality figures of one clip from its scored frames, which of them may be picked, and its spots."""
    times = np.asarray(times, dtype=float)
    pickable = np.asarray(pickable, dtype=bool)
    spots = np.asarray(sorted(spot_times), dtype=float)
    first, last = float(times[0]), float(times[-1])
    shots = labels.shots or [(first, last)]
    at_edge = (times - first < EDGE) | (last - times < EDGE)
    near_cut = _inside(times, [(cut - CUT_MARGIN, cut + CUT_MARGIN) for cut in labelled_cuts(shots)])
    clean = ~_inside(times, labels.bad) & ~at_edge & ~near_cut
    covered = sum(bool(_inside(spots, [shot]).any()) for shot in shots)
    edge_spots = int(((spots - first < EDGE) | (last - spots < EDGE)).sum()) if last - first > EDGE_CLIP else 0
    return {
        "spots": len(spots),
        "spot_times": [round(float(t), 3) for t in spots],
        "defects": int(_inside(spots, labels.bad).sum()),
        "clean_frames": int(clean.sum()),
        "over_rejection": float((clean & ~pickable).sum() / clean.sum()) if clean.any() else 0.0,
        "edge_spots": edge_spots,
        "edge_eligible": last - first > EDGE_CLIP,
        "shots": len(shots),
        "shots_covered": covered,
        "coverage": covered / min(len(shots), len(spots)) if len(spots) else 0.0,
    }


def top_honoured(count: int, wanted: int, duration: float, min_gap: float, labels: ClipLabels) -> Optional[bool]:
    """Whether ``--top wanted`` gave ``wanted`` spots; None when it is not demanded: the clip is shorter
    than 2 x wanted x min-gap, or its labels list fewer usable shots than ``wanted`` (so that it may not
    hold that many distinct moments; an unlabelled clip is demanded by its length alone)."""
    long_enough = duration >= 2 * wanted * min_gap
    enough_shots = len(labels.shots) >= wanted if len(labels.shots) > 1 else True
    return count == wanted if long_enough and enough_shots else None


def summarize(rows: Sequence[Dict[str, Any]], tops: Sequence[int]) -> Dict[str, Any]:
    """Totals over the clips, and whether each target holds."""
    done = [row for row in rows if "error" not in row]
    eligible = [row for row in done if row["auto"]["edge_eligible"]]
    multi_shot = [row for row in done if row["auto"]["shots"] > 1]
    covered = sum(row["auto"]["shots_covered"] for row in multi_shot)
    coverable = sum(min(row["auto"]["shots"], row["auto"]["spots"]) for row in multi_shot)
    summary = {
        "clips": len(rows),
        "failures": len(rows) - len(done),
        "defects": sum(row["auto"]["defects"] + sum(row["top"][str(n)]["defects"] for n in tops) for row in done),
        "over_rejection_max": max((row["auto"]["over_rejection"] for row in done), default=0.0),
        "edge_clips": sum(row["auto"]["edge_spots"] > 0 for row in eligible) / len(eligible) if eligible else 0.0,
        "coverage": covered / coverable if coverable else 1.0,
        "duplicate_pairs": sum(row["auto"]["duplicate_pairs"]
                               + sum(row["top"][str(n)]["duplicate_pairs"] for n in tops) for row in done),
        "top_honoured": {str(n): [row["top"][str(n)]["honoured"] for row in done
                                  if row["top"][str(n)]["honoured"] is not None] for n in tops},
    }
    summary["targets_met"] = {
        "no defects": summary["defects"] == TARGETS["defects"],
        "no failures": summary["failures"] == TARGETS["failures"],
        "no duplicate spots": summary["duplicate_pairs"] == 0,
        "over-rejection <= 10 % on every clip": summary["over_rejection_max"] <= TARGETS["over_rejection"],
        "<= 10 % of clips with an edge spot": summary["edge_clips"] <= TARGETS["edge_clips"],
        "shot coverage >= 90 % on multi-shot clips": summary["coverage"] >= TARGETS["coverage"],
        "--top N honoured": all(all(values) for values in summary["top_honoured"].values()),
    }
    return summary


def measure_clip(video: Path, labels: ClipLabels, out_dir: Path, model: Any, settings: Any, tops: Sequence[int]) -> Dict[str, Any]:
    import vidaesthetic as va

    started = time.perf_counter()
    document = va.extract_spots(video, out_dir, model, settings)
    curve = va.ScoreCurve.load(out_dir / "scores.json")
    duration = float(curve.times[-1] - curve.times[0])

    def measured(document: Dict[str, Any], folder: Path = out_dir) -> Dict[str, Any]:
        figures = clip_metrics(labels, curve.times, curve.pickable, [spot["time"] for spot in document["spots"]])
        images = [folder / spot["image"] for spot in document["spots"]]
        figures["duplicate_pairs"] = duplicate_pairs(images, model, settings.max_similarity or 1.0)
        return figures

    row = {"clip": video.name, "duration": round(duration, 3), "frames": len(curve), "auto": measured(document),
           "shortfall": document.get("selection", {}).get("shortfall"), "top": {}}
    for wanted in tops:
        top_dir = out_dir / f"top{wanted}"
        top_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy2(out_dir / "scores.json", top_dir / "scores.json")  # the same curve, not scored again
        figures = measured(va.extract_spots(video, top_dir, model, _with_top(settings, wanted)), top_dir)
        figures["honoured"] = top_honoured(figures["spots"], wanted, duration, settings.min_gap, labels)
        row["top"][str(wanted)] = figures
    row["seconds"] = round(time.perf_counter() - started, 1)
    return row


def duplicate_pairs(images: Sequence[Path], model: Any, max_similarity: float) -> int:
    """Pairs of key-frame images that show the same picture, judged on the images as written."""
    import torch
    from PIL import Image

    from vidaesthetic.curve.duplicates import same_picture
    from vidaesthetic.curve.framestats import luminance, picture_hashes

    hashes, vectors = [], []
    for path in images:
        with Image.open(path) as image:
            frame = torch.from_numpy(np.array(image.convert("RGB"))).permute(2, 0, 1)[None]
        hashes.append(picture_hashes(luminance(frame))[0].numpy())
        with torch.inference_mode(), model.autocast():
            vector = model.embed(frame.to(model.device))[0].float().cpu().numpy()
        vectors.append(vector / max(float(np.linalg.norm(vector)), 1e-12))
    pairs = 0
    for first in range(len(images)):
        for second in range(first + 1, len(images)):
            alike = float(vectors[first] @ vectors[second]) > max_similarity
            pairs += bool(alike or same_picture(hashes[second][None], hashes[first])[0])
    return pairs


def _with_top(settings: Any, top: int) -> Any:
    from dataclasses import replace

    return replace(settings, top=top)


def _percent(value: float) -> str:
    return f"{100 * value:.0f} %"


def markdown(rows: Sequence[Dict[str, Any]], summary: Dict[str, Any], tops: Sequence[int], setup: Dict[str, Any]) -> str:
    top_headers = [f"--top {n}" for n in tops]
    headers = ["clip", "s", "spots", "defects", "over-rejection", "edge spots", "shots covered", "duplicate pairs",
               *top_headers]
    lines = []
    for row in rows:
        if "error" in row:
            lines.append([row["clip"], "", "failed: " + row["error"], *[""] * (len(headers) - 3)])
            continue
        auto = row["auto"]
        top_cells = []
        for n in tops:
            figures = row["top"][str(n)]
            mark = {True: "", False: " ✗", None: " (not demanded)"}[figures["honoured"]]
            bad = f", {figures['defects']} in bad" if figures["defects"] else ""
            copies = f", {figures['duplicate_pairs']} duplicate pairs" if figures["duplicate_pairs"] else ""
            top_cells.append(f"{figures['spots']}{mark}{bad}{copies}")
        lines.append([row["clip"], f"{row['duration']:.1f}", str(auto["spots"]), str(auto["defects"]),
                      _percent(auto["over_rejection"]), str(auto["edge_spots"]) if auto["edge_eligible"] else "–",
                      f"{auto['shots_covered']}/{auto['shots']}", str(auto["duplicate_pairs"]), *top_cells])
    table = markdown_table(headers, lines)
    honoured = ", ".join(f"--top {n}: {sum(v)}/{len(v)}" for n, v in summary["top_honoured"].items())
    targets = "\n".join(f"- {'met' if met else '**not met**'}: {name}" for name, met in summary["targets_met"].items())
    return (
        f"# Pick quality ({setup['mode']}, model {setup['model']})\n\n{table}\n\n"
        f"Clips {summary['clips']}, failures {summary['failures']}, defects {summary['defects']}, "
        f"worst over-rejection {_percent(summary['over_rejection_max'])}, "
        f"clips with an edge spot {_percent(summary['edge_clips'])}, shot coverage {_percent(summary['coverage'])}, "
        f"duplicate pairs {summary['duplicate_pairs']}, "
        f"--top N honoured where demanded ({honoured}).\n\n{targets}\n"
    )


def videos_in(folder: Path) -> List[Path]:
    return sorted(path for path in folder.iterdir() if path.suffix.lower() in VIDEO_SUFFIXES)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("videos", nargs="?", type=Path, default=FIXTURES / "videos", help="folder of clips")
    parser.add_argument("--labels", type=Path, default=None,
                        help="labels file (default: the fixtures' labels.json when the fixture folder is used)")
    parser.add_argument("--model", default=None, help="model name (default: what `spots` uses)")
    parser.add_argument("--weights", default=None, help="weights file of the learned model")
    parser.add_argument("--fast", action="store_true", help="fast mode instead of dense scoring")
    parser.add_argument("--top", dest="tops", type=int, nargs="*", default=[3, 5], help="explicit counts to check")
    parser.add_argument("--composed", action="store_true",
                        help="add a clip edited from the fixtures (see composed.py), with its labels")
    parser.add_argument("--clips-dir", type=Path, default=HERE / ".clips", help="where the composed clip is kept")
    parser.add_argument("--out", type=Path, default=HERE / "results", help="folder for picks.json, picks.md, picks/")
    args = parser.parse_args(argv)
    if args.labels is None and args.videos == FIXTURES / "videos":
        args.labels = FIXTURES / "labels.json"
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    import vidaesthetic as va

    if not args.videos.is_dir():
        print(f"{args.videos}: not a folder of videos", file=sys.stderr)
        return 2
    labels = load_labels(args.labels)
    settings = va.SpotSettings(model_name=args.model, weights=args.weights, fast=args.fast, progress=False)
    model = va.load_model(**settings.model_options())
    clips_dir = args.out / "picks"
    shutil.rmtree(clips_dir, ignore_errors=True)
    clips = [(video, labels.get(video.stem, ClipLabels())) for video in videos_in(args.videos)]
    if args.composed:
        import composed

        video, own = composed.build(FIXTURES, args.clips_dir)
        clips.append((video, ClipLabels(bad=[tuple(s) for s in own["bad"]], shots=[tuple(s) for s in own["shots"]])))
    rows = []
    for video, clip_labels in clips:
        print(f"{video.name} ...", file=sys.stderr, flush=True)
        try:
            rows.append(measure_clip(video, clip_labels, clips_dir / video.stem, model, settings, args.tops))
        except Exception as error:  # a failure is a result here, not the end of the run
            rows.append({"clip": video.name, "error": f"{type(error).__name__}: {error}"})
    summary = summarize(rows, args.tops)
    setup = {"mode": "fast" if args.fast else "dense", "model": model.name, "labels": str(args.labels),
             "videos": str(args.videos), "composed": args.composed, "tops": args.tops}
    text = markdown(rows, summary, args.tops, setup)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "picks.json").write_text(json.dumps({"setup": setup, "summary": summary, "clips": rows}, indent=2))
    (args.out / "picks.md").write_text(text)
    print(text)
    return 0 if all(summary["targets_met"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
