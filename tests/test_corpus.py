"""A corpus of bad and unusual inputs, generated here, each with the outcome a user should get.

Every kind ends in one of two ways (README, "Reliability"):

* ``Ok``: exit 0, ``spots.json`` written, key frames at the video's display
  size (rotation and pixel aspect applied);
* ``Fails``: one line on stderr naming the file, exit 2 for bad input, and no
  output folder left behind.

Never a traceback, never a hang (every run has a timeout), never a stray
``.vidaesthetic-tmp`` file. To stay fast on a 2-core machine, every file kind
goes through one batch run (``spots -o OUT -- FILES...``), where each file's
outcome is its own line on stderr; the kinds marked ``alone`` also run by
themselves to check the single-file exit code and one-line error. All runs of
the module start together in the ``runs`` fixture.

A full disk is tested twice: for real on a 16 KiB tmpfs where the test can
mount one (root, in a private mount namespace that ends with the run, so no
mount can outlive the test), and everywhere by writing every output through
a link to ``/dev/full`` in-process (CliRunner), which fails like a full disk.
Root ignores permissions, so the permission cases run in-process too, with the
refusal simulated (the ``permission_denied`` fixture).

How a decoder treats damaged pictures differs between FFmpeg builds (one
rejects a packet that another conceals), so damaged kinds are held to what
holds for all: the packets rejected, however many, are counted and reported,
and the frames past the damage are scored.
"""

from __future__ import annotations

import errno
import functools
import io
import json
import os
import random
import shutil
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import av
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from media import textured, write_audio

# A run past these is a hang. They leave room for a busy machine: a single run takes ~5 s there when idle,
# the batch ~20 s.
TIMEOUT = 120
BATCH_TIMEOUT = 300
BASE = ("spots", "-q", "--model", "baseline")
TEMP_SUFFIX = ".vidaesthetic-tmp"
AS_ROOT = os.geteuid() == 0

# ---------------------------------------------------------------------------------------------------------------
# Building the media

WIDTH, HEIGHT, FRAMES, FPS = 64, 48, 40, 10
MARK = (255, 0, 0)  # painted into the top-left corner of every coded picture


def pictures(width: int = WIDTH, height: int = HEIGHT, count: int = FRAMES) -> List[np.ndarray]:
    """A slow pan over a textured picture (no cuts, so spots are found), top-left corner marked red."""
    scene = textured(width + count, height, seed=3)
    frames = [np.ascontiguousarray(scene[:, shift : shift + width]) for shift in range(count)]
    for frame in frames:
        frame[: max(1, height // 6), : max(1, width // 6)] = MARK
    return frames


def encode(target: Union[Path, io.BytesIO], frames: Sequence[np.ndarray], codec: str = "libx264",
           pix_fmt: str = "yuv420p", container: Optional[str] = None, options: Optional[dict] = None,
           muxer_options: Optional[dict] = None, rotation: Optional[int] = None,
           sample_aspect_ratio: Optional[Fraction] = None, second_stream: bool = False) -> None:
    """Encode RGB frames, single-threaded so that the bytes (and so the damaged files) are reproducible.

    ``rotation`` is clockwise display rotation in degrees; ``second_stream`` adds a
    second video stream twice as wide after the first.
    """
    with av.open(target, "w", format=container, options=muxer_options or {}) as output:
        streams = []
        for number in range(2 if second_stream else 1):
            stream = output.add_stream(codec, rate=FPS)
            stream.pix_fmt = pix_fmt
            stream.height, stream.width = frames[0].shape[0], frames[0].shape[1] * (number + 1)
            stream.options = {"threads": "1", **({"preset": "ultrafast"} if codec == "libx264" else {}),
                              **(options or {})}
            if sample_aspect_ratio is not None:
                stream.codec_context.sample_aspect_ratio = sample_aspect_ratio
            if rotation is not None:
                stream.set_display_rotation(-rotation)  # FFmpeg's display matrix turns counter-clockwise
            streams.append(stream)
        for frame in frames:
            for number, stream in enumerate(streams):
                picture = np.ascontiguousarray(np.tile(frame, (1, number + 1, 1)))
                output.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        for stream in streams:
            output.mux(stream.encode())


@functools.lru_cache(maxsize=None)
def clip(container: str) -> bytes:
    """The good clip every damaged kind starts from: 4 s, a keyframe every second (mp4: index at the end)."""
    buffer = io.BytesIO()
    encode(buffer, pictures(), container=container, options={"g": "10"})
    return buffer.getvalue()


def flip_bits(data: bytes, start: int, end: int, count: int = 20, seed: int = 0) -> bytes:
    damaged, rng = bytearray(data), random.Random(seed)
    for _ in range(count):
        damaged[rng.randrange(start, end)] ^= 1 << rng.randrange(8)
    return bytes(damaged)


def box(data: bytes, name: bytes) -> Tuple[int, int]:
    """(start, end) of a top-level MP4 box, header included."""
    position = 0
    while position + 8 <= len(data):
        size = int.from_bytes(data[position : position + 4], "big")
        if data[position + 4 : position + 8] == name:
            return position, position + size
        position += size
    raise ValueError(f"no {name!r} box")


def still(image_format: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(textured(WIDTH, HEIGHT)).save(buffer, image_format)
    return buffer.getvalue()


MINIMAL_PDF = (b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
               b"2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n")


def empty_video_stream(path: Path) -> None:
    """A Matroska file with a video stream that has no packets (and an audio stream that has some)."""
    with av.open(str(path), "w") as output:
        video = output.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        audio = output.add_stream("aac", rate=44100)
        output.start_encoding()
        for number in range(10):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 44100, number * 1024
            output.mux(audio.encode(frame))
        output.mux(audio.encode())


# Presentation times (ms) with repeats and steps back; packets stay in this order.
VFR_TIMES = [0, 100, 100, 250, 200, 400, 400, 650, 600, 900, 1000, 1000, 1300, 1250, 1500]


def irregular_timestamps(path: Path) -> None:
    """Matroska with duplicated and non-monotonic presentation times (Matroska stores only pts)."""
    with av.open(str(path), "w") as output:
        stream = output.add_stream("mpeg4", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.time_base = Fraction(1, 1000)
        packets = [p for f in pictures(count=len(VFR_TIMES)) for p in stream.encode(av.VideoFrame.from_ndarray(f))]
        packets += stream.encode()
        assert len(packets) == len(VFR_TIMES)  # intra and P frames only: one packet per frame
        for number, (packet, time) in enumerate(zip(packets, VFR_TIMES)):
            packet.pts, packet.dts, packet.time_base = time, number, Fraction(1, 1000)
            output.mux(packet)


def animated_gif(path: Path) -> None:
    frames = [Image.fromarray(frame) for frame in pictures()]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=1000 // FPS, loop=0)


def writes(data: Callable[[], bytes]) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data())


def encodes(**options) -> Callable[[Path], None]:
    size = options.pop("size", (WIDTH, HEIGHT))
    count = options.pop("count", FRAMES)
    return lambda path: encode(path, pictures(*size, count=count), **options)


def truncated(container: str, percent: int) -> Callable[[Path], None]:
    return writes(lambda: clip(container)[: len(clip(container)) * percent // 100])


def without_moov() -> bytes:
    data = clip("mp4")
    start, end = box(data, b"moov")
    return data[:start] + data[end:]


def zeroed_mdat() -> bytes:
    data = clip("mp4")
    start, end = box(data, b"mdat")
    return data[: start + 8] + bytes(end - start - 8) + data[end:]


def header_flips() -> bytes:
    """Bit flips in the first KiB after the box headers: the first pictures are damaged, the file's structure is not."""
    data = clip("mp4")
    return flip_bits(data, box(data, b"mdat")[0] + 8, 1024)


def payload_flips() -> bytes:
    data = clip("mp4")
    return flip_bits(data, 1024, box(data, b"mdat")[1])


# ---------------------------------------------------------------------------------------------------------------
# Expected outcomes


@dataclass(frozen=True)
class Ok:
    """Exit 0; spots.json and key frames at this display size (``spots=False``: a valid run that picks nothing)."""

    size: Tuple[int, int]
    spots: bool = True
    rotation: int = 0
    damaged_until: Optional[float] = None  # pictures are damaged before this time (s), none after it


@dataclass(frozen=True)
class Fails:
    """One line on stderr naming the file and containing ``words``; exit ``code``; no outputs."""

    words: str
    code: int = 2


@dataclass(frozen=True)
class Kind:
    """A file kind: its file name in the corpus, how to make it, what a user should get."""

    name: str
    build: Optional[Callable[[Path], None]]  # None: the path does not exist
    expect: Union[Ok, Fails]
    alone: bool = False  # also run by itself: exit code and the one-line error of a single-file run


SIZE = (WIDTH, HEIGHT)
KINDS = [
    Kind("missing.mp4", None, Fails("no such file"), alone=True),
    Kind("empty.mp4", writes(lambda: b""), Fails("is an empty file")),
    Kind("text.mp4", writes(lambda: b"not a video\n" * 50), Fails("not a readable video"), alone=True),
    Kind("png.mp4", writes(lambda: still("PNG")), Fails("is a still image, not a video")),
    Kind("jpeg.mp4", writes(lambda: still("JPEG")), Fails("is a still image, not a video")),
    Kind("pdf.mp4", writes(lambda: MINIMAL_PDF), Fails("not a readable video")),
    # truncated: an MP4 cut before its index cannot be read; a stream decodes up to where it was cut
    Kind("cut-01.mp4", truncated("mp4", 1), Fails("not a readable video")),
    Kind("cut-10.mp4", truncated("mp4", 10), Fails("not a readable video")),
    Kind("cut-50.mp4", truncated("mp4", 50), Fails("not a readable video")),
    Kind("cut-90.mp4", truncated("mp4", 90), Fails("not a readable video")),
    Kind("stream-cut-01.ts", truncated("mpegts", 1), Fails("not a readable video")),
    Kind("stream-cut-10.ts", truncated("mpegts", 10), Ok(SIZE)),  # 3 frames survive
    Kind("stream-cut-50.ts", truncated("mpegts", 50), Ok(SIZE)),
    Kind("stream-cut-90.ts", truncated("mpegts", 90), Ok(SIZE)),
    # damage: pictures before ``damaged_until`` are damaged, the container is intact, the rest is used
    Kind("flips-header.mp4", writes(header_flips), Ok(SIZE, damaged_until=1.0)),
    Kind("stream-flips-header.ts", writes(lambda: flip_bits(clip("mpegts"), 0, 1024)), Ok(SIZE, damaged_until=1.0)),
    Kind("flips-payload.mp4", writes(payload_flips), Ok(SIZE, damaged_until=FRAMES / FPS)),
    Kind("zeroed-mdat.mp4", writes(zeroed_mdat), Fails("has no decodable video frames")),
    Kind("no-moov.mp4", writes(without_moov), Fails("not a readable video")),
    Kind("audio-only.m4a", write_audio, Fails("has no video stream"), alone=True),
    Kind("no-video-packets.mkv", empty_video_stream, Fails("has no decodable video frames")),
    # unusual but valid videos
    Kind("one-frame.mp4", encodes(count=1), Ok(SIZE)),
    Kind("three-frames.mp4", encodes(count=3), Ok(SIZE)),
    Kind("1x1.mkv", encodes(size=(1, 1), codec="ffv1", pix_fmt="yuv444p"), Ok((1, 1), spots=False)),
    Kind("2x4096.mp4", encodes(size=(2, 4096), count=10), Ok((2, 4096))),
    Kind("odd-225x97.mkv", encodes(size=(225, 97), codec="ffv1", pix_fmt="yuv444p"), Ok((225, 97))),
    Kind("10-bit.mp4", encodes(pix_fmt="yuv420p10le"), Ok(SIZE)),
    Kind("yuv444.mp4", encodes(pix_fmt="yuv444p"), Ok(SIZE)),
    Kind("irregular-timestamps.mkv", irregular_timestamps, Ok(SIZE)),
    Kind("rotated-90.mp4", encodes(rotation=90), Ok((HEIGHT, WIDTH), rotation=90)),
    Kind("rotated-180.mp4", encodes(rotation=180), Ok(SIZE, rotation=180)),
    Kind("rotated-270.mp4", encodes(rotation=270), Ok((HEIGHT, WIDTH), rotation=270)),
    Kind("sar-2to1.mp4", encodes(sample_aspect_ratio=Fraction(2, 1)), Ok((2 * WIDTH, HEIGHT))),
    Kind("two-video-streams.mp4", encodes(second_stream=True), Ok(SIZE)),
    Kind("animated.gif", animated_gif, Ok(SIZE)),
    Kind("mjpeg.avi", encodes(codec="mjpeg", pix_fmt="yuvj420p"), Ok(SIZE)),
    Kind("with space.mp4", writes(lambda: clip("mp4")), Ok(SIZE)),
    Kind("café ☕.mp4", writes(lambda: clip("mp4")), Ok(SIZE)),
    Kind("-clip.mp4", writes(lambda: clip("mp4")), Ok(SIZE)),  # after "--" here; as ./-clip.mp4 in INVOCATIONS
]

assert len({Path(kind.name).stem for kind in KINDS}) == len(KINDS), "a batch gives each stem one output folder"

# ---------------------------------------------------------------------------------------------------------------
# Running


@dataclass
class Run:
    argv: List[str]
    returncode: Optional[int]  # None: killed after its timeout
    stdout: str
    stderr: str


def vidaesthetic(argv: Sequence[str], cwd: Path, env: Dict[str, str], timeout: float, wrapper: Sequence[str] = ()
                 ) -> Run:
    """``python -m vidaesthetic ARGV`` (after ``wrapper``), killed after ``timeout`` s (then ``returncode`` is None)."""
    command = [*wrapper, sys.executable, "-m", "vidaesthetic", *argv]
    try:
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired as hung:
        done = subprocess.CompletedProcess(command, None, hung.stdout or b"", hung.stderr or b"")
    return Run(list(argv), done.returncode, _text(done.stdout), _text(done.stderr))


def _text(output: Union[bytes, str]) -> str:
    return output.decode("utf-8", errors="replace") if isinstance(output, bytes) else output


def finished(run: Run) -> Run:
    """The rules for every run: it ended, with no traceback and no internal error."""
    assert run.returncode is not None, f"hung: {run.argv} did not end within its timeout"
    assert "Traceback" not in run.stderr + run.stdout, run.stderr
    assert "internal error" not in run.stderr, run.stderr
    return run


def alone_args(kind: Kind) -> List[str]:
    return [*BASE, kind.name, "-o", f"alone/{Path(kind.name).stem}"]


@dataclass
class Invocation:
    """A run of its own: an argument or output location that a batch of files cannot show."""

    name: str
    args: List[str]
    expect: Union[Ok, Fails]
    output: str  # the output location (relative to the corpus): a failed run leaves it as it was
    names: str = ""  # what the error line must name (default: the output)
    setup: Callable[[Path], None] = lambda corpus: None
    refused: str = ""  # a file the run may not read, or a folder it may not write in: such a run is in-process


def make_folder(path: str, *files: str) -> Callable[[Path], None]:
    def setup(corpus: Path) -> None:
        (corpus / path).mkdir(parents=True)
        for name in files:
            (corpus / path / name).write_text("not a video\n")
    return setup


def copy_clip(name: str, then: Callable[[Path], None] = lambda corpus: None) -> Callable[[Path], None]:
    def setup(corpus: Path) -> None:
        (corpus / name).write_bytes(clip("mp4"))
        then(corpus)
    return setup


def on_a_full_disk(corpus: Path, folder: str) -> List[str]:
    """A command prefix: run on a full 16 KiB tmpfs at ``folder``, mounted in a mount namespace of the run's own.

    It prints what the run left in ``folder`` as its last line. Empty when no such mount can be made here.
    """
    script = f'mount -t tmpfs -o size=16k tmpfs {folder} || exit 99; "$@"; code=$?; echo "left: $(ls -A {folder})"; ' \
             'exit $code'
    wrapper = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh"]
    if not AS_ROOT or shutil.which("unshare") is None:
        return []
    probe = subprocess.run([*wrapper, "true"], cwd=corpus, capture_output=True)
    return wrapper if probe.returncode == 0 else []


KEEP = "an existing file the output must not replace\n"
INVOCATIONS = [
    Invocation("folder without videos", [*BASE, "no videos", "-o", "out-folder"], Fails("no video files"),
               "out-folder", names="no videos", setup=make_folder("no videos", "notes.txt")),
    Invocation("leading dash as ./-clip.mp4", [*BASE, "./-clip.mp4", "-o", "out-dash"], Ok(SIZE), "out-dash"),
    Invocation("unreadable file", [*BASE, "locked.mp4", "-o", "out-locked"], Fails("permission denied"),
               "out-locked", names="locked.mp4", setup=copy_clip("locked.mp4"), refused="locked.mp4"),
    Invocation("output folder not writable", [*BASE, "with space.mp4", "-o", "read-only/out"],
               Fails("not writable"), "read-only/out", setup=lambda corpus: (corpus / "read-only").mkdir(),
               refused="read-only"),
    Invocation("output folder is a file", [*BASE, "with space.mp4", "-o", "a-file"],
               Fails("exists and is not a directory"), "a-file",
               setup=lambda corpus: (corpus / "a-file").write_text(KEEP)),
]
FULL_DISK = Invocation("output on a full filesystem", [*BASE, "with space.mp4", "-o", "full/out"],
                       Fails("No space left on device"), "full/out")
@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """Every kind built into one folder, next to the cache and outputs of the runs."""
    root = tmp_path_factory.mktemp("corpus")
    for kind in KINDS:
        if kind.build is not None:
            kind.build(root / kind.name)
    for invocation in INVOCATIONS:
        invocation.setup(root)
    return root


@pytest.fixture(scope="module")
def environment(tmp_path_factory) -> Dict[str, str]:
    """What the autouse fixture gives each test, for the module-wide runs: offline, a private cache."""
    env = {**os.environ, "VIDAESTHETIC_OFFLINE": "1", "VIDAESTHETIC_CACHE": str(tmp_path_factory.mktemp("cache")),
           "PYTHONUTF8": "1"}
    env.pop("VIDAESTHETIC_WEIGHTS", None)
    return env


@pytest.fixture(scope="module")
def runs(corpus, environment):
    """Every subprocess run of this module, started together, four at a time -> name: Future[Run]."""
    planned: Dict[str, Tuple[List[str], float, List[str]]] = {
        "batch": ([*BASE, "-o", "batch", "--", *(kind.name for kind in KINDS)], BATCH_TIMEOUT, []),
    }
    planned.update({kind.name: (alone_args(kind), TIMEOUT, []) for kind in KINDS if kind.alone})
    planned.update({case.name: (case.args, TIMEOUT, []) for case in INVOCATIONS if not case.refused})
    (corpus / "full").mkdir()
    full_disk = on_a_full_disk(corpus, "full")
    if full_disk:
        planned[FULL_DISK.name] = (FULL_DISK.args, TIMEOUT, full_disk)
    with ThreadPoolExecutor(max_workers=4) as pool:
        yield {name: pool.submit(vidaesthetic, args, corpus, environment, timeout, wrapper)
               for name, (args, timeout, wrapper) in planned.items()}


def result(runs: Dict[str, Future], name: str) -> Run:
    return runs[name].result()


def run_refused(case: Invocation, corpus: Path, deny: Callable[[Path], None], monkeypatch) -> Run:
    """``case`` in this process (CliRunner), where the simulated refusal of ``case.refused`` applies."""
    from vidaesthetic.cli import main

    monkeypatch.chdir(corpus)
    deny(corpus / case.refused)
    outcome = CliRunner().invoke(main, case.args)
    return Run(case.args, outcome.exit_code, outcome.stdout, outcome.stderr)


# ---------------------------------------------------------------------------------------------------------------
# Checking


def check_ok(expect: Ok, out: Path, lines: Optional[List[str]] = None) -> None:
    """A finished run: spots.json, key frames at the display size, no temporaries; its lines in a batch's stderr."""
    document = json.loads((out / "spots.json").read_text(encoding="utf-8"))
    corrupt = document["corrupt_frames"]
    assert corrupt == 0 or expect.damaged_until is not None, f"{corrupt} packets of an undamaged video rejected"
    if lines is not None:
        count = len(document["spots"])
        warnings = [f"vidaesthetic: warning: {document['video']['path']}: skipped {corrupt} corrupt packet(s)"]
        summary = f"{document['video']['path']}: {count} spot{'s' * (count != 1)} -> {out.parent.name}/{out.name}/"
        if document["selection"]["shortfall"]:  # no spot, or fewer than asked: the line says why
            summary += f" ({document['selection']['shortfall']})"
        assert lines == (warnings if corrupt else []) + [summary], lines
    video = document["video"]
    assert (video["width"], video["height"]) == expect.size
    assert video["rotation"] == expect.rotation
    assert bool(document["spots"]) == expect.spots, document["spots"]
    times = json.loads((out / "scores.json").read_text(encoding="utf-8"))["frames"]["time"]
    if expect.damaged_until is not None:  # every frame past the damage is scored
        past = [time for time in times if time >= expect.damaged_until - 1e-6]
        assert len(past) == FRAMES - round(expect.damaged_until * FPS), times
    for spot in document["spots"]:
        assert spot["time"] in times  # a presentation time of a scored frame
        with Image.open(out / spot["image"]) as image:
            assert image.size == expect.size
            intact = expect.damaged_until is None or spot["time"] >= expect.damaged_until
            if min(expect.size) >= 16 and intact:  # a damaged picture need not show its mark
                assert marked_corner(np.asarray(image.convert("RGB"))) == expect.rotation
    assert not list(out.glob(f"*{TEMP_SUFFIX}"))


def marked_corner(picture: np.ndarray) -> int:
    """Clockwise turns (degrees) that took the red top-left mark to where it is in ``picture``."""
    corners = {0: picture[:4, :4], 90: picture[:4, -4:], 180: picture[-4:, -4:], 270: picture[-4:, :4]}
    redness = {turn: float(c[..., 0].mean() - c[..., 1:].mean()) for turn, c in corners.items()}
    return max(redness, key=redness.get)


def check_fails(expect: Fails, name: str, lines: List[str], out: Path) -> None:
    assert len(lines) == 1, (name, lines)
    assert lines[0].startswith(f"vidaesthetic: error: {name}: ") and expect.words in lines[0], lines[0]
    assert not out.exists(), f"{out} left behind by a failed run"


def run_and_check(case: Invocation, corpus: Path, run: Run) -> None:
    """A run of its own: its exit code, its one line, and an output location left as it was."""
    finished(run)
    out = corpus / case.output
    if isinstance(case.expect, Ok):
        assert run.returncode == 0, run.stderr
        check_ok(case.expect, out)
        return
    lines = run.stderr.splitlines()
    assert run.returncode == case.expect.code, run.stderr
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"vidaesthetic: error: {case.names or case.output}: "), lines[0]
    assert case.expect.words in lines[0], lines[0]
    if out.is_file():
        assert out.read_text() == KEEP, f"{out} was changed by a failed run"
    else:
        assert not out.exists(), f"{out} left behind by a failed run"


def lines_about(stderr: str, names: Sequence[str]) -> Dict[str, List[str]]:
    """The batch's stderr lines per file; lines naming no file are the run's summary."""
    found: Dict[str, List[str]] = {name: [] for name in [*names, "summary"]}
    for line in stderr.splitlines():
        text = line.split(": ", 2)[2] if line.startswith(("vidaesthetic: error: ", "vidaesthetic: warning: ")) else line
        owners = [name for name in names if text.startswith(f"{name}: ")]
        found[max(owners, key=len) if owners else "summary"].append(line)
    return found


@pytest.mark.parametrize("kind", [pytest.param(kind, id=kind.name) for kind in KINDS])
def test_file_kind(kind: Kind, corpus: Path, runs) -> None:
    """Each file's outcome in the batch run, and alone when marked so."""
    batch = finished(result(runs, "batch"))
    lines = lines_about(batch.stderr, [k.name for k in KINDS])[kind.name]
    out = corpus / "batch" / Path(kind.name).stem
    if isinstance(kind.expect, Fails):
        check_fails(kind.expect, kind.name, lines, out)
    else:
        check_ok(kind.expect, out, lines)
    if kind.alone:
        single = finished(result(runs, kind.name))
        out = corpus / "alone" / Path(kind.name).stem
        if isinstance(kind.expect, Fails):
            assert single.returncode == kind.expect.code, single.stderr
            check_fails(kind.expect, kind.name, single.stderr.splitlines(), out)
        else:
            assert single.returncode == 0, single.stderr
            check_ok(kind.expect, out)


def test_batch_summary(runs) -> None:
    """The batch says what failed, and its exit code is that of the worst failure (2: bad input)."""
    batch = finished(result(runs, "batch"))
    failures = sum(isinstance(kind.expect, Fails) for kind in KINDS)
    summary = lines_about(batch.stderr, [k.name for k in KINDS])["summary"]
    assert summary == [f"vidaesthetic: {len(KINDS) - failures} done, 0 already done, {failures} failed "
                       f"(of {len(KINDS)} videos)", f"vidaesthetic: error: {failures} of {len(KINDS)} videos failed"]
    assert batch.returncode == 2


@pytest.mark.parametrize("case", [pytest.param(case, id=case.name) for case in INVOCATIONS])
def test_invocation(case: Invocation, corpus: Path, runs, permission_denied, monkeypatch) -> None:
    """Arguments and output locations, each in a run of its own."""
    if case.refused:
        run = run_refused(case, corpus, permission_denied, monkeypatch)
    else:
        run = result(runs, case.name)
    run_and_check(case, corpus, run)


def test_output_on_a_full_filesystem(corpus: Path, runs) -> None:
    """A real full disk: a 16 KiB tmpfs, which only root can mount (skipped elsewhere; see the test below)."""
    if FULL_DISK.name not in runs:
        pytest.skip("cannot mount a tiny tmpfs here (needs root and unshare)")
    run = result(runs, FULL_DISK.name)
    assert run.stdout.splitlines()[-1:] == ["left: "], run.stdout  # nothing left on the full disk
    run_and_check(FULL_DISK, corpus, run)


def test_output_write_fails_with_enospc(tmp_path, monkeypatch) -> None:
    """A simulated full disk, anywhere: every output file is written through a link to /dev/full (ENOSPC)."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    from vidaesthetic._internal.atomic import OutputSet
    from vidaesthetic.cli import main

    reserve = OutputSet.reserve

    def onto_a_full_disk(self, name):
        temp = reserve(self, name)
        temp.unlink()
        temp.symlink_to("/dev/full")
        return temp

    monkeypatch.setattr(OutputSet, "reserve", onto_a_full_disk)
    (tmp_path / "clip.mp4").write_bytes(clip("mp4"))
    outcome = CliRunner().invoke(main, [*BASE, str(tmp_path / "clip.mp4"), "-o", str(tmp_path / "out")])
    lines = outcome.stderr.splitlines()
    assert not (tmp_path / "out").exists() and not list(tmp_path.rglob(f"*{TEMP_SUFFIX}"))
    assert outcome.exit_code == 2, outcome.stderr
    assert len(lines) == 1 and str(tmp_path / "out") in lines[0] and os.strerror(errno.ENOSPC) in lines[0]


def test_no_temporaries_anywhere(corpus: Path, runs) -> None:
    """After every run of the module, successful or not, no hidden temporary is left anywhere."""
    for future in runs.values():
        future.result()
    assert not list(corpus.rglob(f"*{TEMP_SUFFIX}"))
