"""``index.html`` at the root of a batch's output: one row per video, rewritten as each video finishes.

A row links to the video's ``report.html`` and shows its best key frame,
its spot count and its duration; a video that failed shows its one-line
reason, and one not yet done says so, so a long batch can be watched by
reloading the page. Like the reports, the page is self-contained.
"""

from __future__ import annotations

import html
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Sequence

from .._internal.atomic import replacing
from ..errors import OutputError, PathLike
from .folder import SPOTS_FILE
from .report import REPORT_FILE, html_page

INDEX_FILE = "index.html"


@dataclass
class IndexRow:
    """One video of a batch: where its results go, and how it went (``error`` when it failed)."""

    video: Path
    out_dir: Path
    error: Optional[str] = None


def batch_root(out_dirs: Sequence[PathLike]) -> Optional[Path]:
    """The folder holding every video's output folder, where the index goes; None for a single video or
    for output folders with no folder of their own above them (``a_spots/`` and ``b_spots/`` side by side)."""
    if len(out_dirs) < 2:
        return None
    root = Path(os.path.commonpath([os.path.abspath(folder) for folder in out_dirs]))
    return None if root == Path.cwd() or any(Path(os.path.abspath(f)) == root for f in out_dirs) else root


def write_index(root: PathLike, rows: Sequence[IndexRow]) -> Path:
    """Write (or rewrite) ``root/index.html`` for ``rows``; a video's figures come from its ``spots.json``."""
    root = Path(root)
    path = root / INDEX_FILE
    try:
        root.mkdir(parents=True, exist_ok=True)
        with replacing(path) as temporary:
            temporary.write_text(render_index(root, rows), encoding="utf-8")
    except OSError as error:
        raise OutputError(f"cannot write the batch index ({error.strerror})", path) from None
    return path


def render_index(root: Path, rows: Sequence[IndexRow]) -> str:
    documents = [None if row.error is not None else _document(Path(row.out_dir)) for row in rows]
    done = sum(document is not None for document in documents)
    failed = sum(row.error is not None for row in rows)
    summary = f"{done} of {len(rows)} videos done, {failed} failed"
    cells = [_row(root, row, document) for row, document in zip(rows, documents)]
    title = f"vidaesthetic batch: {html.escape(summary)}"
    return html_page(title, _STYLE, _BODY.format(summary=html.escape(summary), rows="\n".join(cells)))


def _row(root: Path, row: IndexRow, document: Optional[Dict]) -> str:
    folder = Path(os.path.relpath(os.path.abspath(row.out_dir), root)).as_posix()
    name = html.escape(row.video.name)
    if row.error is not None:
        return f'<tr class="failed"><th scope="row">{name}</th><td colspan="4">failed: {html.escape(row.error)}</td></tr>'
    if document is None:
        return f'<tr class="pending"><th scope="row">{name}</th><td colspan="4">not done yet</td></tr>'
    spots = document.get("spots", [])
    best = spots[0] if spots else None
    picture = (f'<img src="{html.escape(folder)}/{html.escape(best["image"])}" alt="best spot of {name}" '
               f'loading="lazy">' if best and best.get("image") else "")
    best_text = f"{best['timecode']} · {best['score']:.4g}" if best else "none"
    report = document.get("files", {}).get("report")
    link = (f'<a href="{html.escape(folder)}/{REPORT_FILE}">report</a>' if report
            else f'<a href="{html.escape(folder)}/">folder</a>')
    return (f'<tr><th scope="row">{name}</th><td class="best">{picture}<span>{html.escape(best_text)}</span></td>'
            f'<td class="count">{len(spots)}</td><td>{document["video"]["duration"]:.1f} s</td><td>{link}</td></tr>')


def _document(folder: Path) -> Optional[Dict]:
    try:
        return json.loads((folder / SPOTS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


_STYLE = """
:root { color-scheme: light dark; }
body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; padding: 1rem 1.5rem 3rem; max-width: 1400px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid rgba(128, 128, 128, .3);
          vertical-align: middle; }
th[scope=row] { font-weight: 600; word-break: break-all; }
td.best img { height: 72px; display: block; border-radius: 4px; }
tr.failed td { color: #d62728; } tr.pending td { color: #888; }
"""

_BODY = """<h1>{summary}</h1>
<p>Reload to follow a batch still running.</p>
<table>
<thead><tr><th scope="col">video</th><th scope="col">best spot</th><th scope="col">spots</th>
<th scope="col">duration</th><th scope="col">report</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
<script>
if (new URLSearchParams(location.search).has("served"))  // vidaesthetic view --serve: reports take their videos from it
  for (const link of document.querySelectorAll("a[href$='report.html']")) link.search = "served";
</script>"""
