"""``vidaesthetic view``: open a spots report (or a batch's index) in the browser, or serve it locally.

Some browsers refuse to play a local video file in a page opened from
disk; :func:`serve` then serves the output folder on 127.0.0.1 only, with
byte ranges (so the video can seek), and each report's source video at
``__video__`` beside it, which the page uses when opened with ``?served``.
"""

from __future__ import annotations

import http.server
import json
import threading
import webbrowser
from functools import partial
from pathlib import Path
from typing import BinaryIO, Optional, Tuple

from ..errors import InputError, PathLike
from ..output.folder import SPOTS_FILE
from ..output.index import INDEX_FILE
from ..output.report import REPORT_FILE

VIDEO_ROUTE = "__video__"


def page_for(target: PathLike) -> Path:
    """The page to open for ``target``: an ``.html`` file, or a folder's ``report.html`` or ``index.html``."""
    path = Path(target)
    if path.is_file() and path.suffix.lower() == ".html":
        return path
    for name in (REPORT_FILE, INDEX_FILE):
        if (path / name).is_file():
            return path / name
    what = "no such file or folder" if not path.exists() else f"has no {REPORT_FILE} or {INDEX_FILE} (written by spots)"
    raise InputError(what, path)


def open_page(page: Path) -> str:
    """Open ``page`` in the default browser; returns its URL."""
    url = page.resolve().as_uri()
    webbrowser.open(url)
    return url


def serve(page: Path, port: int = 0) -> Tuple[http.server.ThreadingHTTPServer, str]:
    """Serve ``page``'s folder on 127.0.0.1 (``port`` 0: any free one) in a background thread; returns the
    server and the page's URL. Stop it with ``server.shutdown()``."""
    root = page.parent.resolve()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), partial(_Handler, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/{page.name}?served"
    return server, url


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Static files with byte ranges, and each report folder's source video at ``__video__``."""

    def log_message(self, *args: object) -> None:  # quiet: the command prints the address once
        pass

    def translate_path(self, path: str) -> str:
        local = Path(super().translate_path(path))
        if local.name == VIDEO_ROUTE:
            video = _source_video(local.parent)
            if video is not None:
                return str(video)
        return str(local)

    def send_head(self) -> Optional[BinaryIO]:
        requested = self.headers.get("Range", "")
        path = Path(self.translate_path(self.path.split("?", 1)[0]))
        if not requested.startswith("bytes=") or not path.is_file():
            return super().send_head()
        size = path.stat().st_size
        first, _, last = requested[len("bytes="):].split(",")[0].partition("-")
        try:
            start = int(first) if first else max(0, size - int(last))
            end = min(int(last), size - 1) if first and last else size - 1
        except ValueError:
            start, end = 0, size - 1
        if start >= size or start > end:
            self.send_error(416, "Requested range not satisfiable")
            return None
        handle = open(path, "rb")
        handle.seek(start)
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        return _Limited(handle, end - start + 1)  # type: ignore[return-value]


class _Limited:
    """A file read only up to ``remaining`` bytes: the body of a range response."""

    def __init__(self, handle: BinaryIO, remaining: int) -> None:
        self._handle, self._remaining = handle, remaining

    def read(self, size: int = -1) -> bytes:
        size = self._remaining if size < 0 else min(size, self._remaining)
        data = self._handle.read(size)
        self._remaining -= len(data)
        return data

    def close(self) -> None:
        self._handle.close()


def _source_video(folder: Path) -> Optional[Path]:
    """The video a report folder's ``spots.json`` was made from (its absolute path), if it is still there."""
    try:
        document = json.loads((folder / SPOTS_FILE).read_text(encoding="utf-8"))
        path = Path(document.get("source", {}).get("path") or document["video"]["path"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return path if path.is_absolute() and path.is_file() else None
