"""Preparing an AROD data directory, against a local HTTP server."""

from __future__ import annotations

import csv
import http.server
import io
import shutil
import threading
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from train import prepare as prepare_module
from train.arod import aesthetic_score, record_id
from train.prepare import ManifestRow, image_path, load_manifest, prepare
from vidaesthetic._internal import download as download_module
from vidaesthetic.errors import InputError


def image_bytes(format: str, size=(64, 48), color=(200, 80, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format)
    return buffer.getvalue()


JPEG = image_bytes("JPEG")
PNG = image_bytes("PNG", color=(10, 120, 250))
BIG_JPEG = image_bytes("JPEG", size=(400, 200))


class Server(http.server.ThreadingHTTPServer):
    """Serves ``routes``: path -> list of (status, body), one per request, the last repeated.

    A 302's body is the address it redirects to.
    """

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.routes: dict[str, list[tuple[int, bytes]]] = {}
        self.hits: Counter[str] = Counter()
        self.lock = threading.Lock()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        server: Server = self.server  # type: ignore[assignment]
        with server.lock:
            server.hits[self.path] += 1
            responses = server.routes.get(self.path, [(404, b"")])
            status, body = responses.pop(0) if len(responses) > 1 else responses[0]
        self.send_response(status)
        if status == 302:
            self.send_header("Location", body.decode())
            body = b""
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server():
    server = Server()
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    monkeypatch.setattr(download_module, "_BACKOFF_S", 0.001)


def write_list(path: Path, rows) -> Path:
    path.write_text("".join(f"{url};{faves};{views}\n" for url, faves, views in rows))
    return path


def read_manifest(data_dir: Path) -> dict[str, dict[str, str]]:
    with open(data_dir / "manifest.csv", newline="") as handle:
        return {row["id"]: row for row in csv.DictReader(handle)}


@pytest.fixture
def mixed(server, tmp_path):
    """A list with every kind of source: (list path, {name: url})."""
    server.routes.update(
        {
            "/a.jpg": [(200, JPEG)],
            "/b.png": [(200, PNG)],
            "/flaky.jpg": [(500, b""), (200, JPEG)],
            "/down.jpg": [(503, b"")],
            "/text.jpg": [(200, b"<html>not an image</html>")],
            "/removed.jpg": [(302, b"/images/en-us/photo_unavailable.png")],
            "/images/en-us/photo_unavailable.png": [(200, PNG)],
            "/moved.jpg": [(302, b"/a.jpg")],
        }
    )
    local = tmp_path / "local"
    local.mkdir()
    (local / "c.png").write_bytes(PNG)
    (local / "d.jpg").write_bytes(JPEG)
    urls = {
        "a": server.url("/a.jpg"),
        "b": server.url("/b.png"),
        "flaky": server.url("/flaky.jpg"),
        "down": server.url("/down.jpg"),
        "text": server.url("/text.jpg"),
        "gone": server.url("/gone.jpg"),
        "removed": server.url("/removed.jpg"),  # Flickr's way of saying 404
        "moved": server.url("/moved.jpg"),
        "file": (local / "c.png").as_uri(),
        "path": "local/d.jpg",  # relative to the list's directory
    }
    rows = [(url, 2 + i, 100) for i, url in enumerate(urls.values())]
    return write_list(tmp_path / "list.txt", rows + [("http://127.0.0.1:1/z.jpg", 0, 100), ("", "", "")]), urls


def test_prepare_fetches_what_it_can_and_records_the_rest(server, mixed, tmp_path):
    list_path, urls = mixed
    out = tmp_path / "data"
    report = prepare(list_path, out, workers=4, retries=2, progress=False)

    assert (report.fetched, report.present, report.ok) == (6, 0, 6)
    assert report.failures == Counter(
        {
            "HTTP 404 Not Found": 1,
            "not an image": 1,
            "HTTP 503 Service Unavailable (after 3 attempts)": 1,
            "photo unavailable (redirected to a placeholder)": 1,
        }
    )
    assert report.skipped == Counter({"undefined score": 1, "malformed": 1})
    assert server.hits == Counter(
        {
            "/a.jpg": 2,  # once more through /moved.jpg
            "/b.png": 1,
            "/flaky.jpg": 2,
            "/down.jpg": 3,
            "/text.jpg": 1,
            "/gone.jpg": 1,
            "/removed.jpg": 1,
            "/images/en-us/photo_unavailable.png": 1,
            "/moved.jpg": 1,
        }
    )
    assert sum(int(line.split()[-1]) for line in report.histogram.splitlines()) == 6

    manifest = read_manifest(out)
    assert set(manifest) == {record_id(url) for url in urls.values()}
    for name, url in urls.items():
        row = manifest[record_id(url)]
        ok = name not in ("down", "text", "gone", "removed")
        assert row["status"] == ("ok" if ok else "failed")
        assert float(row["score"]) == aesthetic_score(int(row["faves"]), int(row["views"]))
        if ok:
            assert row["path"] == image_path(record_id(url)).as_posix()
            with Image.open(out / row["path"]) as image:
                assert image.format == "JPEG" and image.size == (64, 48)
        else:
            assert row["path"] == "" and row["error"]
    assert (out / image_path(record_id(urls["a"]))).read_bytes() == JPEG  # JPEGs are kept byte for byte
    assert not list(out.rglob("*.vidaesthetic-tmp"))


def test_a_rerun_fetches_only_what_is_missing(server, mixed, tmp_path):
    list_path, urls = mixed
    out = tmp_path / "data"
    prepare(list_path, out, workers=4, retries=1, progress=False)
    (out / image_path(record_id(urls["b"]))).unlink()
    (out / "manifest.csv").unlink()
    server.hits.clear()

    report = prepare(list_path, out, workers=4, retries=1, progress=False)

    assert (report.fetched, report.present) == (1, 5)
    # Failures are tried again; everything present is not fetched again.
    assert server.hits == Counter(
        {"/b.png": 1, "/down.jpg": 2, "/text.jpg": 1, "/gone.jpg": 1, "/removed.jpg": 1, "/images/en-us/photo_unavailable.png": 1}
    )
    assert sum(row["status"] == "ok" for row in read_manifest(out).values()) == 6


def test_an_interrupted_run_leaves_a_manifest_and_resumes(server, tmp_path, monkeypatch):
    server.routes.update({f"/{i}.jpg": [(200, JPEG)] for i in range(6)})
    list_path = write_list(tmp_path / "list.txt", [(server.url(f"/{i}.jpg"), 1, 10) for i in range(6)])
    out = tmp_path / "data"
    monkeypatch.setattr(prepare_module, "_CHECKPOINT_S", 0.0)  # after every result
    real_prepare_one = prepare_module._prepare_one
    calls = 0

    def interrupted_after_four(record, **options):
        nonlocal calls
        calls += 1
        if calls > 4:
            raise KeyboardInterrupt
        return real_prepare_one(record, **options)

    monkeypatch.setattr(prepare_module, "_prepare_one", interrupted_after_four)
    with pytest.raises(KeyboardInterrupt):
        prepare(list_path, out, workers=1, progress=False)
    # A checkpoint after one of the four results, listing images that are there.
    assert 1 <= len(load_manifest(out)) <= 4
    assert len(list((out / "images").rglob("*.jpg"))) == 4

    monkeypatch.setattr(prepare_module, "_prepare_one", real_prepare_one)
    server.hits.clear()
    report = prepare(list_path, out, workers=1, progress=False)
    assert (report.fetched, report.present) == (2, 4)
    assert server.hits == Counter({"/4.jpg": 1, "/5.jpg": 1})
    assert len(load_manifest(out)) == 6


def test_manifest_paths_are_relative_so_the_directory_can_move(server, mixed, tmp_path):
    list_path, urls = mixed
    prepare(list_path, tmp_path / "data", retries=1, progress=False)
    assert all(not Path(row["path"]).is_absolute() for row in read_manifest(tmp_path / "data").values())
    moved = tmp_path / "elsewhere" / "moved"
    shutil.move(tmp_path / "data", moved)

    rows = load_manifest(moved)

    assert len(rows) == 6 and all(isinstance(row, ManifestRow) for row in rows)
    assert all(row.path.is_absolute() and row.path.is_file() and moved.resolve() in row.path.parents for row in rows)
    a = next(row for row in rows if row.id == record_id(urls["a"]))
    assert (a.faves, a.views) == (2, 100)
    assert a.score == pytest.approx(aesthetic_score(2, 100))


def test_load_manifest_refuses_a_directory_without_its_images(server, mixed, tmp_path):
    list_path, _ = mixed
    prepare(list_path, tmp_path / "data", retries=1, progress=False)
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(tmp_path / "data" / "manifest.csv", alone)

    with pytest.raises(InputError, match="6 of the 6 images it lists are missing"):
        load_manifest(alone)
    with pytest.raises(InputError, match="no manifest.csv"):
        load_manifest(tmp_path / "nothing-here")


def test_load_manifest_leaves_out_a_few_missing_images_with_a_warning(server, mixed, tmp_path):
    list_path, urls = mixed
    prepare(list_path, tmp_path / "data", retries=1, progress=False)
    (tmp_path / "data" / image_path(record_id(urls["a"]))).unlink()

    with pytest.warns(UserWarning, match="1 images"):
        rows = load_manifest(tmp_path / "data", max_missing=0.5)
    assert len(rows) == 5


def test_max_side_downscales_new_and_already_present_images(server, tmp_path):
    server.routes["/big.jpg"] = [(200, BIG_JPEG)]
    list_path = write_list(tmp_path / "list.txt", [(server.url("/big.jpg"), 3, 30)])
    out = tmp_path / "data"
    stored = out / image_path(record_id(server.url("/big.jpg")))

    prepare(list_path, out, max_side=100, progress=False)
    with Image.open(stored) as image:
        assert image.size == (100, 50)

    stored.write_bytes(BIG_JPEG)  # as a run without max_side leaves it
    report = prepare(list_path, out, max_side=80, progress=False)
    assert report.present == 1 and server.hits["/big.jpg"] == 1  # shrunk on disk, not fetched again
    with Image.open(stored) as image:
        assert image.size == (80, 40)


def test_a_corrupt_stored_file_is_fetched_again(server, tmp_path):
    server.routes["/a.jpg"] = [(200, JPEG)]
    list_path = write_list(tmp_path / "list.txt", [(server.url("/a.jpg"), 3, 30)])
    out = tmp_path / "data"
    prepare(list_path, out, progress=False)
    stored = out / image_path(record_id(server.url("/a.jpg")))
    stored.write_bytes(JPEG[: len(JPEG) // 2])

    report = prepare(list_path, out, progress=False)

    assert (report.fetched, report.present) == (1, 0) and server.hits["/a.jpg"] == 2
    assert stored.read_bytes() == JPEG


def test_bad_urls_fail_without_stopping_the_run(server, tmp_path):
    server.routes["/a.jpg"] = [(200, JPEG)]
    rows = [("http://[bad/x.jpg", 1, 10), ("http://a b/c.jpg", 1, 10), ("ftp://x/y.jpg", 1, 10), (server.url("/a.jpg"), 1, 10)]
    report = prepare(write_list(tmp_path / "list.txt", rows), tmp_path / "data", progress=False)
    assert report.fetched == 1
    assert report.failures == Counter({"invalid URL": 2, "unsupported URL scheme 'ftp'": 1})


@pytest.mark.parametrize("option", [{"workers": 0}, {"retries": -1}, {"max_side": 0}, {"timeout": 0}])
def test_bad_options_are_input_errors(tmp_path, option):
    list_path = write_list(tmp_path / "list.txt", [("a.jpg", 1, 10)])
    with pytest.raises(InputError):
        prepare(list_path, tmp_path / "data", **option)


def test_training_sees_transparent_and_16_bit_images_as_ranking_does(tmp_path):
    """Stored and loaded for training, a picture has the pixels that ranking (inference) gives it."""
    from train.data import load_image
    from vidaesthetic.apps.rank import _load

    clear = Image.new("RGBA", (64, 48), (10, 120, 250, 0))  # fully transparent: white to a viewer
    grey = Image.fromarray(np.full((48, 64), 40000, dtype=np.uint16))  # 16-bit: mid-grey, not clipped white
    for name, picture in (("clear", clear), ("grey", grey)):
        source = tmp_path / f"{name}.png"
        picture.save(source)
        (tmp_path / f"{name}.txt").write_text(f"{source.name};2;100\n")
        prepare(tmp_path / f"{name}.txt", tmp_path / name, workers=1, progress=False)
        stored = tmp_path / name / image_path(record_id(source.name))
        trained = load_image(stored, 32)
        ranked, _ = _load(source, 32, 32)
        assert np.abs(trained.astype(int) - ranked.transpose(2, 0, 1)).max() <= 2  # JPEG round trip only
    assert trained.mean() == pytest.approx(40000 / 256, abs=2)
