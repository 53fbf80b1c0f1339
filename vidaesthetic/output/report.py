"""``report.html``: one page to look at a video's spots, offline and self-contained.

The page holds everything it shows: its styles and script inline, the curve
data embedded as JSON, the curve itself drawn here as inline SVG (so that it
and the gallery show without JavaScript), the key frames by their file names
beside it, and the source video by a relative path (an absolute file URL
where no relative path exists). It asks no other host for anything. Its
script adds what a person choosing key frames needs: hovering the curve shows
the time and scores, clicking the curve or a key frame seeks the video there,
the playhead is drawn on the curve while the video plays, and ←/→ step
between spots.
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from ..curve.record import ScoreCurve
from ..curve.shots import DEFECTS
from ..curve.spots import Spot
from ..timecode import clock_timecode
from .plot import displayed_raw, normalised_view

REPORT_FILE = "report.html"
MAX_POINTS = 4000
"""Points of the curve drawn and embedded at most; longer curves are thinned evenly (the spots are kept)."""
WIDTH, HEIGHT = 1000, 280
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 14, 30
"""The SVG's size and margins in its own units; the page scales it to its width."""


def report_data(curve: ScoreCurve, spots: Sequence[Spot], document: Dict[str, Any], video_src: str) -> Dict[str, Any]:
    """Everything the page shows, as JSON values: what the unit tests check and the script reads."""
    shown = _thinned(len(curve))
    times = curve.times
    raw = displayed_raw(curve)
    # Over frames never picked the smoother's values are a guess across them (or a blank run's own): not drawn.
    smoothed = np.where(curve.defective, np.nan, curve.values)
    info = curve.video
    return {
        "video": {"name": Path(info.path).name, "src": video_src, "width": info.width, "height": info.height,
                  "duration": info.duration, "fps": info.fps, "codec": info.codec, "start_time": info.start_time,
                  "frames": info.frame_count},
        "model": {"name": curve.model.get("name"), "weights_id": curve.model.get("weights_id"),
                  "precision": curve.model.get("precision")},
        "sampling": curve.sampling,
        "smoothing": curve.smoothing,
        "selection": document.get("selection", {}),
        "count": count_explanation(document.get("selection", {}), len(spots)),
        "frames_scored": len(curve),
        "points": {"t": _rounded(times[shown], 4), "raw": _rounded(raw[shown], 6),
                   "smoothed": _rounded(smoothed[shown], 6)},
        "stretches": stretches(curve),
        "shot_starts": shot_starts(curve),
        "spots": [{"rank": spot.rank, "time": spot.time, "timecode": spot.timecode, "score": spot.score,
                   "raw_score": spot.raw_score, "shot": spot.shot, "image": spot.image} for spot in spots],
        "normalised": normalised_view(curve),
    }


def count_explanation(selection: Dict[str, Any], found: int) -> str:
    """Why there are this many spots, in a sentence or two."""
    if selection.get("top") is not None:
        text = f"{found} of the {selection['top']} asked for."
    elif selection.get("automatic_count"):
        automatic = selection["automatic_count"]
        text = f"{found} chosen automatically (up to {automatic['limit']}): {automatic['rule']}."
    else:
        text = f"{found} spots."
    relaxed = selection.get("relaxed") or []
    if relaxed:
        text += f" To reach the count: {', '.join(relaxed)}."
    if selection.get("shortfall"):
        text += f" {selection['shortfall'][0].upper()}{selection['shortfall'][1:]}."
    return text


def stretches(curve: ScoreCurve) -> List[Dict[str, Any]]:
    """Runs of frames that are never picked (a defect) or picked only if nothing else is (a margin)."""
    reasons = curve.reasons
    runs: List[Dict[str, Any]] = []
    start = 0
    for index in range(1, len(curve) + 1):
        if index == len(curve) or reasons[index] != reasons[start]:
            if reasons[start]:
                runs.append({"start": float(curve.times[start]), "end": float(curve.times[index - 1]),
                             "reason": str(reasons[start]),
                             "kind": "never" if reasons[start] in DEFECTS else "margin"})
            start = index
    return runs


def shot_starts(curve: ScoreCurve) -> List[float]:
    """Times of the first frame of every shot after the first."""
    shots = curve.shots
    if len(shots) < 2:
        return []
    seen = np.maximum.accumulate(shots)
    return curve.times[np.flatnonzero(shots[1:] > seen[:-1]) + 1].astype(float).tolist()


def video_source(video_path: str, out_dir: Path) -> str:
    """The video as the page refers to it: relative to the output folder, else an absolute file URL."""
    path = Path(video_path).resolve()
    try:
        relative = os.path.relpath(path, Path(out_dir).resolve())
    except ValueError:  # another drive on Windows: no relative path exists
        return path.as_uri()
    return Path(relative).as_posix()


def render_report(data: Dict[str, Any]) -> str:
    """The whole page as text."""
    title = f"{data['video']['name']}: {len(data['spots'])} spots"
    payload = json.dumps(data, allow_nan=False).replace("</", "<\\/")
    body = _BODY.format(
        title=html.escape(title), facts=_facts(data), count=html.escape(data["count"]), curve=_curve_svg(data),
        video=_video(data), gallery=_gallery(data), data=payload, script=_SCRIPT,
    )
    return html_page(html.escape(title), _STYLE, body)


def html_page(title: str, style: str, body: str) -> str:
    """A whole self-contained page (the report's and the batch index's): no icon or style fetched."""
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<link rel="icon" href="data:,">\n'
            f"<title>{title}</title>\n<style>{style}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n")


def _facts(data: Dict[str, Any]) -> str:
    video, model = data["video"], data["model"]
    mode = _sampling_text(data["sampling"] or {})
    smoothing = data["smoothing"] or {}
    rows = [
        ("Video", f"{video['width']} × {video['height']}, {video['duration']:.2f} s, {video['fps']:.3f} fps, "
                  f"{video['codec']}"),
        ("Model", f"{model['name']} (weights {model['weights_id']}, {model['precision']})"),
        ("Frames scored", f"{data['frames_scored']} of ~{video['frames']}: {mode}"),
        ("Smoothing", ", ".join(f"{key} {value}" for key, value in smoothing.items()) or "none"),
        ("Selection", f"min gap {data['selection'].get('min_gap')} s, per shot "
                      f"{data['selection'].get('per_shot')}, {data['selection'].get('shots', '?')} shots"),
    ]
    return "\n".join(f"<dt>{html.escape(name)}</dt><dd>{html.escape(str(value))}</dd>" for name, value in rows)


def _sampling_text(sampling: Dict[str, Any]) -> str:
    if sampling.get("mode") == "fast":
        return f"fast mode ({sampling.get('chosen', 'asked')}): every frame only around the candidates"
    if sampling.get("fps"):
        return f"{sampling['fps']:g} frames a second"
    if sampling.get("stride", 1) > 1:
        return f"every {sampling['stride']}th frame"
    return "every frame"


def _scales(data: Dict[str, Any]):
    points = data["points"]
    t0 = points["t"][0] if points["t"] else 0.0
    t1 = points["t"][-1] if len(points["t"]) > 1 else t0 + 1.0
    values = [v for v in points["raw"] + points["smoothed"] if v is not None]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    pad = (high - low) * 0.08 or 1.0
    low, high = low - pad, high + pad

    def x(time: float) -> float:
        return LEFT + (time - t0) / (t1 - t0) * (WIDTH - LEFT - RIGHT)

    def y(value: float) -> float:
        return TOP + (high - value) / (high - low) * (HEIGHT - TOP - BOTTOM)

    return x, y, (t0, t1, low, high)


def _curve_svg(data: Dict[str, Any]) -> str:
    x, y, (t0, t1, low, high) = _scales(data)
    points = data["points"]
    parts = [f'<svg id="curve" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" preserveAspectRatio="none" '
             f'data-t0="{t0}" data-t1="{t1}" data-left="{LEFT}" data-right="{WIDTH - RIGHT}" '
             f'aria-label="Score curve of {html.escape(data["video"]["name"])}">']
    for stretch in data["stretches"]:
        left, right = x(stretch["start"]), max(x(stretch["end"]), x(stretch["start"]) + 1.5)
        parts.append(f'<rect class="stretch {stretch["kind"]}" x="{left:.1f}" y="{TOP}" width="{right - left:.1f}" '
                     f'height="{HEIGHT - TOP - BOTTOM}"><title>{html.escape(stretch["reason"])}: '
                     f'{stretch["start"]:.2f}–{stretch["end"]:.2f} s</title></rect>')
    for start in data["shot_starts"]:
        parts.append(f'<line class="cut" x1="{x(start):.1f}" x2="{x(start):.1f}" y1="{TOP}" '
                     f'y2="{HEIGHT - BOTTOM}"><title>shot starts at {start:.2f} s</title></line>')
    for name in ("raw", "smoothed"):
        parts.append(f'<path class="{name}" d="{_path(points["t"], points[name], x, y)}"/>')
    for tick in _ticks(t0, t1):
        parts.append(f'<text class="axis" x="{x(tick):.1f}" y="{HEIGHT - 10}" text-anchor="middle">'
                     f'{clock_timecode(tick)}</text>')
    for value in (low, (low + high) / 2, high):
        parts.append(f'<text class="axis" x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end">{value:.3g}</text>')
    smoothed = dict(zip(points["t"], points["smoothed"]))
    for spot in data["spots"]:
        level = smoothed.get(spot["time"], spot["score"])
        parts.append(f'<g class="mark" data-rank="{spot["rank"]}"><circle cx="{x(spot["time"]):.1f}" '
                     f'cy="{y(level):.1f}" r="5"/><text x="{x(spot["time"]):.1f}" y="{y(level) - 9:.1f}" '
                     f'text-anchor="middle">#{spot["rank"]}</text></g>')
    parts.append(f'<line id="playhead" x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{HEIGHT - BOTTOM}"/>')
    parts.append(f'<line id="cursor" x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{HEIGHT - BOTTOM}"/>')
    parts.append("</svg>")
    return "\n".join(parts)


def _path(times: Sequence[float], values: Sequence[Optional[float]], x, y) -> str:
    """An SVG path through the points, broken where a value is missing."""
    steps, pen_down = [], False
    for time, value in zip(times, values):
        if value is None:
            pen_down = False
            continue
        steps.append(f"{'L' if pen_down else 'M'}{x(time):.1f},{y(value):.1f}")
        pen_down = True
    return " ".join(steps)


def _ticks(t0: float, t1: float) -> List[float]:
    span = max(t1 - t0, 1e-6)
    step = next(s for s in (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600, 1e9) if span / s <= 10)
    first = np.ceil(t0 / step) * step
    return [float(t) for t in np.arange(first, t1 + 1e-9, step)]


def _video(data: Dict[str, Any]) -> str:
    video = data["video"]
    return (f'<video id="video" controls preload="metadata" src="{html.escape(video["src"])}" '
            f'data-start="{video["start_time"]}"></video>\n'
            # Served by `vidaesthetic view --serve`: the video comes from the server, switched before it loads.
            f'<script>if (new URLSearchParams(location.search).has("served")) '
            f'document.getElementById("video").src = "__video__";</script>\n'
            f'<p id="video-note" class="note" hidden>This browser cannot play this video '
            f'({html.escape(video["codec"])}): the curve and the key frames still work. Open it in a player, '
            f'or run <code>vidaesthetic view --serve</code> if the browser refuses local files.</p>')


def _gallery(data: Dict[str, Any]) -> str:
    items = []
    for spot in data["spots"]:
        image = html.escape(spot["image"] or "")
        label = f"#{spot['rank']} at {spot['timecode']}, score {spot['score']:.4g}, shot {spot['shot']}"
        items.append(f'<li><button class="spot" data-rank="{spot["rank"]}" data-time="{spot["time"]}" '
                     f'aria-label="{html.escape(label)}"><img src="{image}" alt="{html.escape(label)}" '
                     f'loading="lazy"><span>#{spot["rank"]} {html.escape(spot["timecode"])} · '
                     f'{spot["score"]:.4g} · shot {spot["shot"]}</span></button></li>')
    return "\n".join(items)


def _thinned(count: int) -> np.ndarray:
    if count <= MAX_POINTS:
        return np.arange(count)
    return np.unique(np.linspace(0, count - 1, MAX_POINTS).round().astype(int))


def _rounded(values: np.ndarray, digits: int) -> List[Optional[float]]:
    return [None if not np.isfinite(v) else round(float(v), digits) for v in values]


_STYLE = """
:root { color-scheme: light dark; --accent: #d62728; --line: #1f77b4; --muted: #888; }
body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; padding: 1rem 1.5rem 3rem; max-width: 1600px; }
h1 { font-size: 1.3rem; margin: .2rem 0 .6rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; margin: 0 0 .6rem; }
dt { font-weight: 600; } dd { margin: 0; }
.note { color: var(--muted); }
.top { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 1.2rem; align-items: start; }
@media (max-width: 900px) { .top { grid-template-columns: 1fr; } }
#video { width: 100%; max-height: 60vh; background: #000; }
#curve { width: 100%; height: 18rem; cursor: crosshair; display: block; }
#curve .raw { fill: none; stroke: var(--muted); stroke-width: 1; vector-effect: non-scaling-stroke; }
#curve .smoothed { fill: none; stroke: var(--line); stroke-width: 2.2; vector-effect: non-scaling-stroke; }
#curve .stretch.never { fill: rgba(120, 120, 120, .28); } #curve .stretch.margin { fill: rgba(120, 120, 120, .12); }
#curve .cut { stroke: #999; stroke-dasharray: 3 3; vector-effect: non-scaling-stroke; }
#curve .axis { font-size: 11px; fill: var(--muted); }
#curve .mark circle { fill: var(--accent); } #curve .mark text { font-size: 11px; fill: var(--accent); }
#curve .mark.selected circle { stroke: currentColor; stroke-width: 2; }
#playhead { stroke: #ff7f0e; stroke-width: 2; vector-effect: non-scaling-stroke; }
#cursor { stroke: var(--muted); stroke-width: 1; visibility: hidden; vector-effect: non-scaling-stroke; }
#tooltip { min-height: 1.45em; font-variant-numeric: tabular-nums; }
.legend span { margin-right: 1rem; } .legend i { display: inline-block; width: 1.4em; height: .8em; margin-right: .3em; }
ol.gallery { list-style: none; padding: 0; display: grid; gap: .8rem;
             grid-template-columns: repeat(auto-fill, minmax(220px, 1fr)); }
.spot { all: unset; cursor: pointer; display: block; width: 100%; border-radius: 6px; outline-offset: 2px; }
.spot img { width: 100%; display: block; border-radius: 6px; }
.spot span { display: block; font-size: .9rem; padding: .2rem 0; font-variant-numeric: tabular-nums; }
.spot:focus-visible, .spot.selected { outline: 3px solid var(--accent); }
"""

_SCRIPT = """
(() => {
  const data = JSON.parse(document.getElementById("report-data").textContent);
  const svg = document.getElementById("curve"), video = document.getElementById("video");
  const tooltip = document.getElementById("tooltip"), cursor = document.getElementById("cursor");
  const playhead = document.getElementById("playhead");
  const t0 = +svg.dataset.t0, t1 = +svg.dataset.t1, left = +svg.dataset.left, right = +svg.dataset.right;
  const start = +video.dataset.start || 0, times = data.points.t;
  const toX = (t) => left + (t - t0) / (t1 - t0) * (right - left);
  const toTime = (x) => t0 + (x - left) / (right - left) * (t1 - t0);
  const svgX = (event) => {
    const box = svg.getBoundingClientRect();
    return (event.clientX - box.left) / box.width * svg.viewBox.baseVal.width;
  };
  const nearest = (t) => {
    let lo = 0, hi = times.length - 1;
    while (hi - lo > 1) { const mid = (lo + hi) >> 1; if (times[mid] < t) lo = mid; else hi = mid; }
    return Math.abs(times[lo] - t) <= Math.abs(times[hi] - t) ? lo : hi;
  };
  const clock = (t) => {
    const ms = Math.round(t * 1000), h = Math.floor(ms / 3600000), m = Math.floor(ms / 60000) % 60;
    const s = Math.floor(ms / 1000) % 60, pad = (n, w) => String(n).padStart(w, "0");
    return `${pad(h, 2)}:${pad(m, 2)}:${pad(s, 2)}.${pad(ms % 1000, 3)}`;
  };
  const seek = (t) => { video.currentTime = Math.max(0, t - start); };
  svg.addEventListener("mousemove", (event) => {
    const i = nearest(toTime(svgX(event))), t = times[i];
    cursor.setAttribute("x1", toX(t)); cursor.setAttribute("x2", toX(t)); cursor.style.visibility = "visible";
    const raw = data.points.raw[i], smooth = data.points.smoothed[i];
    tooltip.textContent = `${t.toFixed(3)} s  ${clock(t)}  raw ${raw === null ? "-" : raw.toPrecision(5)}` +
      `  smoothed ${smooth === null ? "-" : smooth.toPrecision(5)}`;
  });
  svg.addEventListener("mouseleave", () => { cursor.style.visibility = "hidden"; });
  svg.addEventListener("click", (event) => seek(toTime(svgX(event))));
  const buttons = [...document.querySelectorAll(".spot")];
  const byTime = [...data.spots].sort((a, b) => a.time - b.time);
  let current = -1;
  const select = (rank, focus) => {
    const spot = data.spots.find((s) => s.rank === rank);
    current = byTime.indexOf(spot);
    for (const b of buttons) b.classList.toggle("selected", +b.dataset.rank === rank);
    for (const m of svg.querySelectorAll(".mark")) m.classList.toggle("selected", +m.dataset.rank === rank);
    if (focus) buttons.find((b) => +b.dataset.rank === rank).focus();
    seek(spot.time);
  };
  for (const b of buttons) b.addEventListener("click", () => select(+b.dataset.rank, false));
  for (const m of svg.querySelectorAll(".mark")) m.addEventListener("click", (event) => {
    event.stopPropagation(); select(+m.dataset.rank, false);
  });
  document.addEventListener("keydown", (event) => {
    if (!byTime.length || (event.key !== "ArrowRight" && event.key !== "ArrowLeft")) return;
    if (event.target === video) return;
    const step = event.key === "ArrowRight" ? 1 : -1;
    const next = current < 0 ? (step > 0 ? 0 : byTime.length - 1)
                             : Math.min(byTime.length - 1, Math.max(0, current + step));
    event.preventDefault();
    select(byTime[next].rank, true);
  });
  const draw = () => {
    const x = toX(video.currentTime + start);
    playhead.setAttribute("x1", x); playhead.setAttribute("x2", x);
    if (!video.paused) requestAnimationFrame(draw);
  };
  video.addEventListener("play", draw); video.addEventListener("seeked", draw);
  video.addEventListener("timeupdate", draw);
  video.addEventListener("error", () => { document.getElementById("video-note").hidden = false; });
})();
"""

_BODY = """<h1>{title}</h1>
<div class="top">
<section aria-label="Score curve">
<dl>{facts}</dl>
<p>{count}</p>
<p class="legend"><span><i style="background:#1f77b4"></i>smoothed</span><span><i style="background:#888"></i>raw</span>\
<span><i style="background:rgba(120,120,120,.4)"></i>never picked</span>\
<span><i style="background:rgba(120,120,120,.15)"></i>picked only if nothing else</span>\
<span>dashed: shot starts</span></p>
{curve}
<p id="tooltip" aria-live="polite"></p>
<p class="note">Click the curve or a key frame to seek the video; ← and → step between spots.</p>
</section>
<section aria-label="Video">
{video}
</section>
</div>
<h2>Spots, best first</h2>
<ol class="gallery">
{gallery}
</ol>
<script type="application/json" id="report-data">{data}</script>
<script>{script}</script>"""
