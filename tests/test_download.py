"""The downloader against a local HTTP server that misbehaves on request."""

from __future__ import annotations

import hashlib
import http.server
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

import pytest

from vidaesthetic._internal import download as download_module
from vidaesthetic._internal.download import PART_SUFFIX, DownloadError, download, git_blob_sha1
from vidaesthetic.errors import OutputError

PAYLOAD = os.urandom(300_000)
PAYLOAD_BLOB = hashlib.sha1(b"blob %d\0" % len(PAYLOAD) + PAYLOAD).hexdigest()


@dataclass
class Behaviour:
    """What the server does; the one-shot fields clear themselves once used."""

    payload: bytes = PAYLOAD
    fail_with: List[int] = field(default_factory=list)  # statuses to answer, one per request, before serving
    drop_after: Optional[int] = None  # send this many body bytes, then close the connection (once)
    interrupt_after: Optional[int] = None  # send this many body bytes, then SIGINT the main thread (once) ...
    saved: Optional[Path] = None  # ... as soon as the client has saved some of them here
    corrupt: bool = False
    ignore_range: bool = False
    ranges: List[Optional[str]] = field(default_factory=list)  # Range header of each request seen
    release: threading.Event = field(default_factory=threading.Event)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        state: Behaviour = self.server.behaviour  # type: ignore[attr-defined]
        requested = self.headers.get("Range")
        state.ranges.append(requested)
        if state.fail_with:
            self.send_error(state.fail_with.pop(0))
            return
        body = bytes([state.payload[0] ^ 0xFF]) + state.payload[1:] if state.corrupt else state.payload
        start = int(requested[len("bytes=") : -1]) if requested and not state.ignore_range else 0
        if start >= len(body) > 0:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(body)}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        body = body[start:]
        if state.drop_after is not None:
            body, state.drop_after = body[: state.drop_after], None
            self.close_connection = True
        elif state.interrupt_after is not None:
            self.wfile.write(body[: state.interrupt_after])
            self.wfile.flush()
            state.interrupt_after = None
            deadline = time.monotonic() + 60  # however busy the machine
            while not (state.saved.exists() and state.saved.stat().st_size) and time.monotonic() < deadline:
                time.sleep(0.01)
            signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
            state.release.wait(5)
            return
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.behaviour = Behaviour()  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/weights.bin"  # type: ignore[attr-defined]
    yield httpd
    httpd.behaviour.release.set()
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch):
    monkeypatch.setattr(download_module, "_BACKOFF_S", 0.0)


def fetch(url: str, destination, **kwargs):
    return download(url, destination, progress=False, timeout=5, **kwargs)


def test_git_blob_sha1_matches_git(tmp_path):
    hello = tmp_path / "hello.txt"
    hello.write_bytes(b"hello\n")
    assert git_blob_sha1(hello) == "ce013625030ba8dba906f756967f9e9ca394464a"  # git hash-object
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert git_blob_sha1(empty) == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
    if shutil.which("git"):
        big = tmp_path / "big.bin"
        big.write_bytes(PAYLOAD * 5)  # several read chunks
        expected = subprocess.run(["git", "hash-object", str(big)], capture_output=True, text=True, check=True)
        assert git_blob_sha1(big) == expected.stdout.strip()


def test_full_download_is_verified_and_renamed(server, tmp_path):
    destination = tmp_path / "cache" / "weights.bin"
    assert fetch(server.url, destination, git_blob=PAYLOAD_BLOB, size=len(PAYLOAD)) == destination
    assert destination.read_bytes() == PAYLOAD
    assert not (tmp_path / "cache" / ("weights.bin" + PART_SUFFIX)).exists()
    assert server.behaviour.ranges == [None]


def test_interrupted_transfer_resumes_with_range(server, tmp_path):
    server.behaviour.drop_after = 100_000
    destination = tmp_path / "weights.bin"
    fetch(server.url, destination, git_blob=PAYLOAD_BLOB)
    assert destination.read_bytes() == PAYLOAD
    assert server.behaviour.ranges == [None, "bytes=100000-"]


def test_corrupted_transfer_leaves_nothing(server, tmp_path):
    server.behaviour.corrupt = True
    destination = tmp_path / "weights.bin"
    with pytest.raises(DownloadError, match="corrupted"):
        fetch(server.url, destination, git_blob=PAYLOAD_BLOB)
    assert list(tmp_path.iterdir()) == []


def test_wrong_size_is_corruption(server, tmp_path):
    with pytest.raises(DownloadError, match="300000 bytes, expected 300001"):
        fetch(server.url, tmp_path / "weights.bin", size=len(PAYLOAD) + 1)
    assert list(tmp_path.iterdir()) == []


def test_not_found_names_the_url_and_is_not_retried(server, tmp_path):
    server.behaviour.fail_with = [404] * 5
    with pytest.raises(DownloadError) as raised:
        fetch(server.url, tmp_path / "weights.bin")
    assert server.url in str(raised.value) and "404" in str(raised.value)
    assert "vidaesthetic weights import" in str(raised.value)
    assert len(server.behaviour.ranges) == 1


def test_refused_connection_fails_quickly(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/weights.bin"
    with pytest.raises(DownloadError) as raised:
        fetch(url, tmp_path / "weights.bin")
    assert str(raised.value).startswith(f"cannot download {url} (") and "refused" in str(raised.value)
    assert "attempts" not in str(raised.value)  # not retried: offline, retries only delay the fallback


def test_transient_server_error_is_retried(server, tmp_path):
    server.behaviour.fail_with = [500]
    destination = fetch(server.url, tmp_path / "weights.bin", git_blob=PAYLOAD_BLOB)
    assert destination.read_bytes() == PAYLOAD
    assert len(server.behaviour.ranges) == 2


def test_retries_are_bounded(server, tmp_path):
    server.behaviour.fail_with = [503] * 10
    with pytest.raises(DownloadError, match="after 3 attempts"):
        fetch(server.url, tmp_path / "weights.bin", retries=2)
    assert len(server.behaviour.ranges) == 3


def test_verified_destination_skips_the_network(server, tmp_path):
    destination = tmp_path / "weights.bin"
    destination.write_bytes(PAYLOAD)
    assert fetch(server.url, destination, git_blob=PAYLOAD_BLOB) == destination
    assert server.behaviour.ranges == []


def test_stale_destination_is_replaced(server, tmp_path):
    destination = tmp_path / "weights.bin"
    destination.write_bytes(b"an older release")
    fetch(server.url, destination, git_blob=PAYLOAD_BLOB)
    assert destination.read_bytes() == PAYLOAD


def test_server_ignoring_range_restarts_from_zero(server, tmp_path):
    server.behaviour.ignore_range = True
    destination = tmp_path / "weights.bin"
    (tmp_path / ("weights.bin" + PART_SUFFIX)).write_bytes(b"x" * 1000)  # not a prefix of the payload
    fetch(server.url, destination, git_blob=PAYLOAD_BLOB)
    assert destination.read_bytes() == PAYLOAD
    assert server.behaviour.ranges == ["bytes=1000-"]


def test_complete_partial_is_verified_after_416(server, tmp_path):
    destination = tmp_path / "weights.bin"
    (tmp_path / ("weights.bin" + PART_SUFFIX)).write_bytes(PAYLOAD)
    fetch(server.url, destination, git_blob=PAYLOAD_BLOB)
    assert destination.read_bytes() == PAYLOAD
    assert server.behaviour.ranges == [f"bytes={len(PAYLOAD)}-"]


@pytest.mark.skipif(sys.platform == "win32", reason="needs pthread_kill")
def test_keyboard_interrupt_keeps_only_the_partial(server, tmp_path):
    destination = tmp_path / "weights.bin"
    part = tmp_path / ("weights.bin" + PART_SUFFIX)
    server.behaviour.interrupt_after, server.behaviour.saved = 50_000, part
    with pytest.raises(KeyboardInterrupt):
        fetch(server.url, destination, git_blob=PAYLOAD_BLOB)
    assert not destination.exists()
    kept = part.read_bytes()
    assert 0 < len(kept) <= 50_000 and PAYLOAD.startswith(kept)  # what had arrived, however much
    server.behaviour.release.set()
    fetch(server.url, destination, git_blob=PAYLOAD_BLOB)
    assert destination.read_bytes() == PAYLOAD
    assert server.behaviour.ranges[-1] == f"bytes={len(kept)}-"


def test_unwritable_destination_is_an_output_error(server, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_bytes(b"")
    with pytest.raises(OutputError):
        fetch(server.url, blocker / "weights.bin")
    with pytest.raises(OutputError):
        fetch(server.url, tmp_path)
    assert server.behaviour.ranges == []
