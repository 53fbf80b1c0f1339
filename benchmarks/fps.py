"""Frames per second of vidaesthetic against playback time, and what bounds them.

    python benchmarks/fps.py [--quick] [--videos V ...] [--device auto|cpu|cuda] [--out DIR]

For every clip (standard synthetic clips generated once into a cache, or your
videos) and every configuration it measures, in one run: decoding alone, the
decode ceiling (FFmpeg itself, through PyAV), the encoder alone on frames
already in memory (the encoder ceiling), and ``score_video`` end to end. Each
measurement runs in a fresh process, so peak memory is its own. Then it checks
that peak memory does not grow with the video's length, compares fast mode
with dense scoring on real clips for both models, and times vidaesthetic's
commands against PySceneDetect and FFmpeg on a long real clip (see
long_clip.py). benchmarks/README.md explains every number.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import math
import multiprocessing
import os
import platform
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, NamedTuple, Optional, Sequence

import av
import numpy as np
import torch
from PIL import Image

import long_clip
import vidaesthetic as va
from tables import markdown_table, number
from vidaesthetic.models import AestheticResNet, int8
from vidaesthetic.models.weights import load_weights, save_weights

STARTED = time.perf_counter()
HERE = Path(__file__).resolve().parent
FIXTURE_VIDEOS = HERE.parent.parent / "shared" / "fixtures" / "videos"
FPS = 30
PLAYBACK_FPS = 30.0
PAPER_FPS = 140.0
"""The paper's video speed: 140 fps on a GTX 960 ("25 % of playback time")."""
RESNET = "aesthetic-resnet50"
MEMORY_TOLERANCE = 1.10
MEMORY_SHORT_SECONDS = 20.0
FAST_TOP = 5
FAST_TOLERANCE = 0.5
LONG_FIXTURE = 10.0
"""Fixture clips longer than this (seconds) are held to the fast-mode recall target."""
AGREEMENT_FRAMES = 32
ENCODERS = {"h264": "libx264", "hevc": "libx265"}
QUIET = {"hevc": {"x265-params": "log-level=error"}}


# --------------------------------------------------------------------------- clips


@dataclass(frozen=True)
class ClipSpec:
    """A synthetic clip. H.264 uses x264's superfast preset, which keeps CABAC, deblocking
    and B-frames (so decoding costs what camera footage costs) while encoding fast."""

    width: int
    height: int
    codec: str
    preset: str = "superfast"

    def filename(self, seconds: float) -> str:
        return f"{self.codec}-{self.height}p-{self.preset}-{seconds:g}s-{FPS}fps.mp4"


STANDARD_CLIPS = {
    "360p": ClipSpec(640, 360, "h264"),
    "720p": ClipSpec(1280, 720, "h264"),
    "1080p": ClipSpec(1920, 1080, "h264"),
    "2160p": ClipSpec(3840, 2160, "h264"),
    "1080p-hevc": ClipSpec(1920, 1080, "hevc", preset="ultrafast"),
}
"""x265 is slow even at ultrafast, and HEVC decoding always pays for CABAC."""


def texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Colour noise with detail at several scales (more weight on coarse ones, as in photographs)."""
    image = np.zeros((height, width, 3), np.float32)
    for cell, weight in ((2, 0.06), (8, 0.14), (32, 0.3), (128, 0.5)):
        small = rng.random((height // cell + 2, width // cell + 2, 3), dtype=np.float32)
        for channel in range(3):
            plane = Image.fromarray(small[..., channel]).resize((width, height), Image.BICUBIC)
            image[..., channel] += weight * np.asarray(plane)
    return (np.clip((image - image.mean()) * 2.5 + 0.5, 0, 1) * 255).astype(np.uint8)


def bounce(position: np.ndarray, span: np.ndarray) -> np.ndarray:
    """Where a point moving in a straight line is after bouncing between 0 and ``span``."""
    folded = np.mod(position, 2 * span)
    return (span - np.abs(folded - span)).astype(int)


def synthetic_frames(width: int, height: int, count: int, seed: int = 0) -> Iterator[np.ndarray]:
    """RGB frames of a panning camera over a textured backdrop with discs crossing it.

    Texture gives the encoder detail to code and the motion gives it something to
    predict; static or flat content would make decoding unrealistically cheap.
    """
    rng = np.random.default_rng(seed)
    backdrop = texture(rng, height + height // 2, width + width // 2)
    size = height // 5
    sprites = [texture(rng, size, size) for _ in range(6)]
    axis = np.linspace(-1, 1, size)
    disc = (np.hypot(axis[:, None], axis[None, :]) <= 1)[..., None]
    span = np.array([width - size, height - size])
    starts = rng.random((len(sprites), 2)) * span
    velocities = (rng.random((len(sprites), 2)) - 0.5) * span / FPS  # crossing in about 2 s
    for index in range(count):
        seconds = index / FPS
        x = round(width / 2 * (0.5 + 0.5 * math.sin(2 * math.pi * seconds / 7)))
        y = round(height / 2 * (0.5 + 0.5 * math.sin(2 * math.pi * seconds / 5)))
        frame = backdrop[y : y + height, x : x + width].copy()
        for sprite, (left, top) in zip(sprites, bounce(starts + velocities * index, span), strict=True):
            np.copyto(frame[top : top + size, left : left + size], sprite, where=disc)
        yield frame


def write_clip(path: Path, spec: ClipSpec, seconds: float) -> None:
    """Encode a synthetic clip; it appears under ``path`` only once complete."""
    partial = path.with_name(path.stem + ".partial.mp4")
    with av.open(str(partial), "w") as container:
        stream = container.add_stream(ENCODERS[spec.codec], rate=FPS)
        stream.width, stream.height, stream.pix_fmt = spec.width, spec.height, "yuv420p"
        stream.options = {"preset": spec.preset, **QUIET.get(spec.codec, {})}
        for frame in synthetic_frames(spec.width, spec.height, round(seconds * FPS)):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    partial.replace(path)


def cached_clip(cache: Path, spec: ClipSpec, seconds: float) -> Path:
    """The clip from the cache, generated first if missing (generation is slower than measuring)."""
    path = cache / spec.filename(seconds)
    if not path.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        log(f"generating {path.name} ...")
        write_clip(path, spec, seconds)
        log(f"  done in {time.perf_counter() - started:.0f} s")
    return path


@dataclass(frozen=True)
class Clip:
    """A video to measure, with what the table says about it."""

    name: str
    path: str
    width: int
    height: int
    codec: str
    fps: float
    frames: int
    duration: float
    mbit_per_second: float


def describe_clip(name: str, path: Path) -> Clip:
    """The clip's facts for the table; the bitrate tells how heavy the stream is to decode."""
    with va.open_video(path) as video:
        info = video.info
    bitrate = path.stat().st_size * 8 / 1e6 / info.duration if info.duration else 0.0
    return Clip(name, str(path), info.width, info.height, info.codec, info.fps, info.frame_count,
                info.duration, round(bitrate, 1))


# --------------------------------------------------------------------------- configurations


@dataclass(frozen=True)
class Config:
    """One way to run ``score_video``: a row of the table for every clip."""

    model: str
    backend: str
    device: str
    precision: str
    batch_size: int
    sample_fps: Optional[float] = None
    compile: bool = False

    @property
    def name(self) -> str:
        parts = ["resnet50" if self.model == RESNET else self.model, self.backend, self.device,
                 self.precision, f"b{self.batch_size}"]
        if self.sample_fps:
            parts.append(f"{self.sample_fps:g}/s")
        if self.compile:
            parts.append("compiled")
        return " ".join(parts)

    def encoder(self) -> "EncoderSpec":
        return EncoderSpec(self.model, self.device, self.precision, self.batch_size, compile=self.compile)


@dataclass(frozen=True)
class EncoderSpec:
    """One execution path of a model; ``channels_last=False`` is the plain float32 network."""

    model: str
    device: str
    precision: str
    batch_size: int
    channels_last: bool = True
    compile: bool = False

    @property
    def name(self) -> str:
        if self.model != RESNET:
            return f"{self.model} {self.device} b{self.batch_size}"
        layout = "channels-last" if self.channels_last else "NCHW"
        kind = {"fp32": "fp32", "int8": "int8 ONNX Runtime"}.get(self.precision, f"{self.precision} autocast")
        suffix = " compiled" if self.compile else ""
        return f"resnet50 {self.device} {kind} {layout}{suffix} b{self.batch_size}"

    def reference(self) -> "EncoderSpec":
        return replace(self, precision="fp32", channels_last=False, compile=False)


def sampling_at(sample_fps: Optional[float]) -> va.Sampling:
    """``sample_fps`` frames per second of video; None for every frame."""
    return va.Sampling(fps=sample_fps) if sample_fps else va.Sampling()


def configurations(args: argparse.Namespace, backends: Sequence[str]) -> List[Config]:
    """The baseline on every backend, and ResNet-50 on the model backends in every precision.

    The baseline is cheap, so its rows show what each decoder costs; ResNet-50
    rows show the model's share (on a CPU, the model dominates whatever decodes).
    """
    configs = [Config("baseline", backend, args.device, "fp32", args.batch_size) for backend in backends]
    for backend in args.model_backends:
        for precision in args.precisions:
            configs.append(Config(RESNET, backend, args.device, precision, args.batch_size, args.model_sample_fps))
    if args.compile:  # the first ResNet-50 row again, compiled
        configs.append(replace(configs[len(backends)], compile=True))
    return configs


# --------------------------------------------------------------------------- fresh processes


def status_mib(field: str) -> Optional[float]:
    """A memory field of this process (``VmRSS``, ``VmHWM``) in MiB; None where there is no /proc."""
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return None


def peak_rss_mib() -> float:
    """This process's peak resident memory: VmHWM on Linux, else ru_maxrss."""
    peak = status_mib("VmHWM")
    if peak is not None:
        return peak
    import resource

    scale = 2**20 if sys.platform == "darwin" else 2**10  # bytes on macOS, KiB elsewhere
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def _measured(function: Callable[..., Dict[str, Any]], kwargs: Dict[str, Any]) -> Dict[str, Any]:
    """Runs in the fresh process: the measurement, its failure as data, and its peaks."""
    try:
        result = function(**kwargs)
    except Exception as error:  # one failing configuration must not stop the others
        result = {"error": f"{type(error).__name__}: {error}"}
    result["peak_rss_mib"] = round(peak_rss_mib(), 1)
    result["load_average"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    if torch.cuda.is_initialized():
        result["peak_device_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return result


class FreshProcesses:
    """Runs each measurement in a new process forked from a server that has only imported
    torch and vidaesthetic: no peak memory, thread pool or CUDA context carries over
    between measurements, and none pays the seconds of importing torch."""

    def __init__(self) -> None:
        method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
        self._context = multiprocessing.get_context(method)
        if method == "forkserver":
            # Named: the default preload of __main__ is lost before Python 3.12 (no main_path reaches the server).
            self._context.set_forkserver_preload(["av", "numpy", "PIL.Image", "torch", "vidaesthetic"])
        self._pool = self._start()

    def _start(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(1, mp_context=self._context, max_tasks_per_child=1)

    def run(self, function: Callable[..., Dict[str, Any]], **kwargs: Any) -> Dict[str, Any]:
        try:
            return self._pool.submit(_measured, function, kwargs).result()
        except BrokenProcessPool:  # a native crash (segfault, out of memory) in a decoder
            self._pool = self._start()
            return {"error": "the measuring process died"}

    def close(self) -> None:
        self._pool.shutdown()


# --------------------------------------------------------------------------- measurements (fresh process)


class Timing(NamedTuple):
    seconds: float
    """Median over the timed repeats."""
    repeats: List[float]
    result: Any


def timed(run: Callable[[], Any], repeats: int, warmup: int = 1, warmup_seconds: float = 0.0) -> Timing:
    """Median wall time of ``run`` after ``warmup`` untimed calls, and more until ``warmup_seconds``
    have passed: kernels must be chosen, files cached and the allocator settled first."""
    started = time.perf_counter()
    for _ in range(warmup):
        run()
    while time.perf_counter() - started < warmup_seconds:
        run()
    times, result = [], None
    for _ in range(repeats):
        begun = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - begun)
    return Timing(statistics.median(times), [round(t, 4) for t in times], result)


def describe_machine(device: str) -> Dict[str, Any]:
    """What the numbers were measured on, seen from a measuring process."""
    cpu = platform.processor() or platform.machine()
    if Path("/proc/cpuinfo").is_file():
        names = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                 if line.startswith("model name")]
        cpu = names[0] if names else cpu
    machine: Dict[str, Any] = {
        "cpu": cpu,
        "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": device,
        "gpu": torch.cuda.get_device_name(0) if device == "cuda" else None,
        "platform": platform.platform(),
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "ffmpeg_libavcodec": ".".join(map(str, av.library_versions["libavcodec"])),
        "versions": {"python": platform.python_version()},
    }
    for package in ("torch", "av", "decord", "torchcodec", "vidaesthetic", "numpy"):
        try:
            machine["versions"][package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            machine["versions"][package] = None
    return machine


def ffmpeg_decode(path: str) -> int:
    """Decode every frame as FFmpeg does with ``-f null``: no conversion, no scaling.

    Same threading as vidaesthetic's PyAV backend (FFmpeg's automatic frame and slice threads).
    """
    with av.open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        stream.thread_count = 0
        return sum(1 for _ in container.decode(stream))


def measure_decode_ceiling(path: str, repeats: int) -> Dict[str, Any]:
    timing = timed(lambda: ffmpeg_decode(path), repeats)
    return {"seconds": timing.seconds, "repeats": timing.repeats, "frames": timing.result}


def measure_decode(path: str, backend: str, sample_fps: Optional[float], batch_size: int,
                   repeats: int) -> Dict[str, Any]:
    """``open_video(...).batches`` at model size, as ``score_video`` reads it, with no model."""
    sampling = sampling_at(sample_fps)

    def run() -> int:
        with va.open_video(path, backend=backend) as video:
            return sum(len(batch) for batch in video.batches(batch_size=batch_size, size=(224, 224),
                                                              sampling=sampling))

    timing = timed(run, repeats)
    return {"seconds": timing.seconds, "repeats": timing.repeats, "scored": timing.result}


def build_model(spec: EncoderSpec, weights: Optional[str], video: str) -> va.AestheticModel:
    """The model exactly as the pipeline runs it, or the plain float32 network as a reference; an int8
    network calibrated on ``video``'s first frames, as on a user's first video (cached after that)."""
    if spec.model != RESNET:
        return va.load_model(spec.model, device=spec.device)
    if not spec.channels_last:
        return load_weights(weights).to(spec.device).eval()
    model = va.load_model(spec.model, weights=weights, device=spec.device, precision=spec.precision,
                          compile=spec.compile)
    if model.quantized and not model.net.calibrated:
        with va.open_video(video) as source:
            model.score(next(iter(source.batches(size=model.input_size))).frames)  # the first batch calibrates
    return model


def measure_encoder(spec: EncoderSpec, weights: Optional[str], frames_from: str, repeats: int) -> Dict[str, Any]:
    """Images per second on a preallocated uint8 batch already on the device; and scores of
    real frames, to check that the path agrees with plain float32.

    The batch is channels-last, as the PyAV and decord backends (and the CUDA path) hand
    frames over, except for the plain network, which gets the NCHW a naive port would.
    """
    model = build_model(spec, weights, frames_from)
    device = torch.device(spec.device)
    generator = torch.Generator().manual_seed(0)
    batch = torch.randint(0, 256, (spec.batch_size, 3, *model.input_size), dtype=torch.uint8, generator=generator)
    layout = torch.channels_last if spec.channels_last else torch.contiguous_format
    batch = batch.contiguous(memory_format=layout).to(device)

    def run() -> None:
        with torch.inference_mode(), model.autocast():
            model.embed(batch)
        if device.type == "cuda":
            torch.cuda.synchronize()

    # One call is not enough: on a CPU the first few can run at a third of the steady speed.
    timing = timed(run, max(repeats, 3), warmup=1, warmup_seconds=3.0)
    with va.open_video(frames_from) as video:
        frames = next(iter(video.batches(batch_size=AGREEMENT_FRAMES, size=model.input_size))).frames
    scores = model.score(frames.to(device)).cpu().tolist()
    return {"images_per_second": spec.batch_size / timing.seconds, "repeats": timing.repeats, "scores": scores}


def measure_end_to_end(path: str, config: Config, weights: Optional[str], repeats: int,
                       warmup: int = 1) -> Dict[str, Any]:
    """``score_video`` on the file, model loaded beforehand (loading is paid once per run, not per video)."""
    rss_before = status_mib("VmRSS")
    model = build_model(config.encoder(), weights, path)

    def run() -> int:
        curve = va.score_video(path, model, sampling=sampling_at(config.sample_fps), batch_size=config.batch_size,
                               backend=config.backend, progress=False)
        return len(curve.times)

    timing = timed(run, repeats, warmup)
    return {"seconds": timing.seconds, "repeats": timing.repeats, "scored": timing.result,
            "rss_before_mib": rss_before}


def spot_recall(reference: Sequence[float], found: Sequence[float], tolerance: float) -> Optional[float]:
    """Share of ``reference`` times with a ``found`` time within ``tolerance`` seconds."""
    if not reference:
        return None
    return sum(any(abs(r - f) <= tolerance for f in found) for r in reference) / len(reference)


def measure_fast_mode(videos: Sequence[str], model_name: str, weights: Optional[str], device: str, batch_size: int,
                      repeats: int) -> Dict[str, Any]:
    """Dense ``score_video`` against ``score_video_fast``, each followed by smooth + find_spots, on each clip."""
    from vidaesthetic.curve.duplicates import same_picture

    model = va.load_model(model_name, weights=weights, device=device)
    options = {"batch_size": batch_size, "progress": False}

    def spots(score: Callable[[], va.ScoreCurve]) -> Callable[[], tuple]:
        def run() -> tuple:
            curve = va.smooth(score())
            return curve, va.find_spots(curve, top=FAST_TOP)
        return run

    def compare(video: str) -> Dict[str, Any]:
        dense = timed(spots(lambda: va.score_video(video, model, **options)), repeats, warmup=0)
        fast = timed(spots(lambda: va.score_video_fast(video, model, top=FAST_TOP, **options)), repeats, warmup=0)
        (dense_curve, dense_spots), (_, fast_spots) = dense.result, fast.result
        row = {index: row for row, index in enumerate(dense_curve.indices.tolist())}
        found = dense_curve.hashes[[row[spot.frame_index] for spot in fast_spots]]

        def again(spot: va.Spot) -> bool:  # within the tolerance, or the same picture (a still shot)
            near = any(abs(spot.time - other.time) <= FAST_TOLERANCE for other in fast_spots)
            return near or bool(same_picture(found, dense_curve.hashes[row[spot.frame_index]]).any())

        return {"dense_seconds": dense.seconds, "fast_seconds": fast.seconds, "speedup": dense.seconds / fast.seconds,
                "recall": sum(map(again, dense_spots)) / len(dense_spots) if dense_spots else None,
                "duration": dense_curve.video.duration, "dense_spots": [spot.time for spot in dense_spots],
                "fast_spots": [spot.time for spot in fast_spots]}

    va.score_video(min(videos, key=os.path.getsize), model, **options)  # warms the process up once
    rows = []
    for video in videos:
        try:
            rows.append({"video": Path(video).name, **compare(video)})
        except Exception as error:  # a clip one of the two cannot read is reported, not fatal
            rows.append({"video": Path(video).name, "error": f"{type(error).__name__}: {error}"})
    return {"model": model_name, "precision": model.describe()["precision"], "top": FAST_TOP,
            "tolerance_s": FAST_TOLERANCE, "videos": rows}


# --------------------------------------------------------------------------- running everything


def log(message: str) -> None:
    print(f"[{time.perf_counter() - STARTED:5.0f} s] {message}", file=sys.stderr, flush=True)


def random_weights(folder: Path) -> str:
    """A ResNet-50 weights file with seeded random weights: the speed is the paper model's, no download."""
    torch.manual_seed(0)
    path = folder / f"{RESNET}-random.safetensors"
    save_weights(AestheticResNet(50), path, provenance={"origin": "random weights for benchmarks/fps.py"})
    return str(path)


def encoder_specs(configs: Sequence[Config]) -> List[EncoderSpec]:
    """The execution path of every configuration, and the plain float32 network they are compared with."""
    specs = {config.encoder() for config in configs}
    specs |= {spec.reference() for spec in specs if spec.model == RESNET}
    return sorted(specs, key=lambda spec: spec.name)


def measure_clips(clips: Sequence[Clip], configs: Sequence[Config], weights: str, args: argparse.Namespace,
                  processes: FreshProcesses) -> Dict[str, Any]:
    """Every measurement the table needs, each one once (a decoder or encoder shared by rows is timed once)."""
    results: Dict[str, Any] = {"decode_ceiling": {}, "decode": {}, "encoder": {}, "end_to_end": {}}
    for spec in encoder_specs(configs):
        log(f"encoder {spec.name}")
        results["encoder"][spec.name] = processes.run(measure_encoder, spec=spec, weights=weights,
                                                      frames_from=clips[0].path, repeats=args.repeats)
    for clip in clips:
        log(f"{clip.name}: decode ceiling")
        results["decode_ceiling"][clip.name] = processes.run(measure_decode_ceiling, path=clip.path,
                                                             repeats=args.repeats)
        readers = {(c.backend, c.sample_fps, c.batch_size) for c in configs}
        for backend, sample_fps, batch_size in sorted(readers, key=str):
            log(f"{clip.name}: decode {decode_key(backend, sample_fps, batch_size)}")
            results["decode"][f"{clip.name}|{decode_key(backend, sample_fps, batch_size)}"] = processes.run(
                measure_decode, path=clip.path, backend=backend, sample_fps=sample_fps,
                batch_size=batch_size, repeats=args.repeats)
        for config in configs:
            log(f"{clip.name}: end to end {config.name}")
            results["end_to_end"][f"{clip.name}|{config.name}"] = processes.run(
                measure_end_to_end, path=clip.path, config=config,
                weights=weights if config.model == RESNET else None, repeats=args.repeats)
    return results


def decode_key(backend: str, sample_fps: Optional[float], batch_size: int) -> str:
    return f"{backend} b{batch_size}" + (f" {sample_fps:g}/s" if sample_fps else "")


def agreement(encoders: Dict[str, Dict[str, Any]], spec: EncoderSpec) -> Optional[float]:
    """Spearman rank correlation of a path's scores with the plain float32 network's."""
    from scipy.stats import spearmanr

    mine, reference = encoders.get(spec.name, {}), encoders.get(spec.reference().name, {})
    if spec.model != RESNET or "scores" not in mine or "scores" not in reference:
        return None
    return float(spearmanr(reference["scores"], mine["scores"]).statistic)


def table_rows(clips: Sequence[Clip], configs: Sequence[Config], results: Dict[str, Any]) -> List[Dict[str, Any]]:
    """One row per clip and configuration, with the ceilings it is judged against."""
    rows = []
    for clip in clips:
        ceiling = results["decode_ceiling"][clip.name]
        frames = ceiling.get("frames") or clip.frames
        for config in configs:
            reader = decode_key(config.backend, config.sample_fps, config.batch_size)
            decode = results["decode"][f"{clip.name}|{reader}"]
            encoder = results["encoder"][config.encoder().name]
            run = results["end_to_end"][f"{clip.name}|{config.name}"]
            row: Dict[str, Any] = {
                "clip": clip.name, "resolution": f"{clip.width}x{clip.height}", "height": clip.height,
                "codec": clip.codec, "config": config.name, "frames": frames,
                "decode_ceiling_fps": frames / ceiling["seconds"] if "seconds" in ceiling else None,
                "decode_fps": frames / decode["seconds"] if "seconds" in decode else None,
                "encoder_ceiling_ips": encoder.get("images_per_second"),
                "scored": run.get("scored"),
                "error": run.get("error") or decode.get("error") or encoder.get("error"),
                "peak_rss_mib": run.get("peak_rss_mib"), "peak_device_mib": run.get("peak_device_mib"),
            }
            if "seconds" in run:
                row["end_to_end_fps"] = frames / run["seconds"]
                row["real_time_factor"] = run["seconds"] / clip.duration
                row["efficiency"] = efficiency(row)
            rows.append(row)
    return rows


def efficiency(row: Dict[str, Any]) -> Optional[float]:
    """End-to-end fps over the tighter ceiling; the encoder ceiling counts in video frames,
    so with sampling each scored image stands for frames / scored video frames."""
    ceilings = []
    if row["decode_ceiling_fps"]:
        ceilings.append(row["decode_ceiling_fps"])
    if row["encoder_ceiling_ips"] and row["scored"]:
        ceilings.append(row["encoder_ceiling_ips"] * row["frames"] / row["scored"])
    return row["end_to_end_fps"] / min(ceilings) if ceilings else None


def memory_check(args: argparse.Namespace, processes: FreshProcesses) -> Dict[str, Any]:
    """Peak RSS of ``score_video`` on a long and a short clip of the same kind (baseline model)."""
    spec = replace(STANDARD_CLIPS[args.memory_clip], preset="ultrafast")  # its speed is not measured
    config = Config("baseline", "pyav", args.device, "fp32", args.batch_size)
    result: Dict[str, Any] = {"clip": args.memory_clip, "config": config.name, "tolerance": MEMORY_TOLERANCE}
    for label, seconds in (("long", args.memory_seconds), ("short", MEMORY_SHORT_SECONDS)):
        path = cached_clip(args.clips_dir, spec, seconds)
        log(f"memory: {label} clip, {seconds:g} s")
        run = processes.run(measure_end_to_end, path=str(path), config=config, weights=None, repeats=1, warmup=0)
        result[label] = {"seconds_of_video": seconds, **run}
    long, short = result["long"].get("peak_rss_mib"), result["short"].get("peak_rss_mib")
    if "error" not in result["long"] and "error" not in result["short"]:
        result["ratio"] = long / short
        result["passed"] = result["ratio"] <= MEMORY_TOLERANCE
    return result


def fast_mode_section(args: argparse.Namespace, processes: FreshProcesses, weights: str) -> Dict[str, Any]:
    videos = sorted(str(p) for p in args.fast_videos.glob("*") if p.is_file()) if args.fast_videos.is_dir() else []
    if not videos:
        return {"skipped": f"no videos in {args.fast_videos}"}
    results = {}
    for model_name, model_weights in (("baseline", None), (RESNET, weights)):
        log(f"fast mode: {model_name}, {len(videos)} videos")
        results[model_name] = processes.run(measure_fast_mode, videos=videos, model_name=model_name,
                                            weights=model_weights, device=args.device, batch_size=args.batch_size,
                                            repeats=args.repeats)
    return results


# --------------------------------------------------------------------------- reports


def main_table(rows: Sequence[Dict[str, Any]], clips: Sequence[Clip]) -> str:
    """The end-to-end table; a failed row keeps its ceilings and says why it failed."""
    durations = {clip.name: clip.duration for clip in clips}
    cuda = any(row.get("peak_device_mib") for row in rows)
    headers = ["clip", "resolution", "codec", "config", "frames scored", "decode ceiling fps", "decode fps",
               "encoder ceiling img/s", "end-to-end fps", "real-time factor", "efficiency", "peak RSS MiB"]
    headers += ["peak GPU MiB"] if cuda else []
    lines = []
    for row in rows:
        cells = [f"{row['clip']} ({durations[row['clip']]:.0f} s)", row["resolution"], row["codec"], row["config"],
                 f"{row['scored'] or '-'} of {row['frames']}", number(row["decode_ceiling_fps"]),
                 number(row["decode_fps"]), number(row["encoder_ceiling_ips"])]
        if row["error"]:
            cells += [f"failed: {row['error'][:80]}", "-", "-", "-"]
        else:
            cells += [number(row["end_to_end_fps"]), number(row["real_time_factor"], 2),
                      f"{row['efficiency']:.0%}" if row["efficiency"] else "-", number(row["peak_rss_mib"], 0)]
        cells += [number(row.get("peak_device_mib"), 0)] if cuda else []
        lines.append(cells)
    return markdown_table(headers, lines)


def encoder_table(encoders: Dict[str, Dict[str, Any]], specs: Sequence[EncoderSpec]) -> str:
    lines = []
    for spec in specs:
        result = encoders[spec.name]
        rho = agreement(encoders, spec)
        lines.append([spec.name, result.get("error") or number(result.get("images_per_second")),
                      "-" if rho is None else f"{rho:.4f}", number(result.get("peak_rss_mib"), 0),
                      number(result.get("peak_device_mib"), 0)])
    return markdown_table(["path", "img/s", f"Spearman vs fp32 NCHW ({AGREEMENT_FRAMES} frames)", "peak RSS MiB",
                           "peak GPU MiB"], lines)


def memory_text(memory: Dict[str, Any]) -> str:
    """The memory check with the RSS before loading the model, so growth can be told from the base."""
    if "skipped" in memory:
        return f"Skipped: {memory['skipped']}."
    parts = []
    for label in ("long", "short"):
        run = memory[label]
        detail = run.get("error") or (f"peak RSS {number(run['peak_rss_mib'], 0)} MiB "
                                      f"({number(run['rss_before_mib'], 0)} MiB before loading the model)")
        parts.append(f"- {label}: {memory['clip']} H.264, {run['seconds_of_video']:g} s of video: {detail}")
    if "ratio" in memory:
        verdict = "passed" if memory["passed"] else "FAILED"
        parts.append(f"- long / short = {memory['ratio']:.3f} (limit {memory['tolerance']:.2f}): {verdict}")
    return f"`score_video`, {memory['config']}, each in a fresh process:\n\n" + "\n".join(parts)


def fast_text(fast: Dict[str, Any]) -> str:
    if "skipped" in fast:
        return f"Skipped: {fast['skipped']}."
    return "\n\n".join(_fast_model_text(result) for result in fast.values())


def _fast_model_text(fast: Dict[str, Any]) -> str:
    if "skipped" in fast or "error" in fast:
        return f"Skipped: {fast.get('skipped') or fast.get('error')}."
    measured = [row for row in fast["videos"] if "error" not in row]
    lines = [[row["video"], number(row["duration"]), number(row["dense_seconds"], 2), number(row["fast_seconds"], 2),
              f"{row['speedup']:.1f}x", "-" if row["recall"] is None else f"{row['recall']:.0%}"]
             for row in measured]
    lines += [[row["video"], "-", f"failed: {row['error'][:80]}", "-", "-", "-"]
              for row in fast["videos"] if "error" in row]
    long = [row for row in measured if row["duration"] > LONG_FIXTURE and row["recall"] is not None]
    speedups = [row["speedup"] for row in measured]
    summary = (f"\n\nMedian speed-up {statistics.median(speedups):.1f}x; top-{fast['top']} recall on clips over "
               f"{LONG_FIXTURE:g} s: mean {statistics.mean(r['recall'] for r in long):.0%}, worst "
               f"{min(r['recall'] for r in long):.0%}." if long else "")
    head = (f"**{fast['model']}** ({fast['precision']}); each time includes smooth + find_spots(top={fast['top']}); "
            f"recall: share of dense spots with a fast spot within {fast['tolerance_s']:g} s or showing the same "
            f"picture.\n\n")
    headers = ["video", "s", "dense s", "fast s", "speed-up", f"top-{fast['top']} recall"]
    return head + markdown_table(headers, lines) + summary


def machine_text(machine: Dict[str, Any]) -> str:
    versions = ", ".join(f"{name} {version}" for name, version in machine["versions"].items() if version)
    gpu = f"; GPU {machine['gpu']}" if machine.get("gpu") else ""
    return (f"{machine['cpu']}, {machine['usable_cores']} of {machine['logical_cores']} cores usable, "
            f"{machine['torch_threads']} torch threads{gpu}; {machine['platform']}; FFmpeg libavcodec "
            f"{machine['ffmpeg_libavcodec']}; {versions}")


def write_markdown(path: Path, report: Dict[str, Any], clips: Sequence[Clip], specs: Sequence[EncoderSpec]) -> str:
    settings = report["settings"]
    text = "\n".join([
        "# vidaesthetic fps benchmark",
        "",
        f"Machine: {machine_text(report['machine'])}.",
        "",
        (f"Repeats: median of {settings['repeats']} after one warm-up; clips at {FPS} fps; ResNet-50 has random "
         f"weights (same speed as the paper's); end-to-end excludes loading the model. Wall time "
         f"{report['wall_seconds']:.0f} s; 1-minute load average {number(report['machine']['load_average'], 2)} "
         f"at the start, {number(report['load_average_at_end'], 2)} at the end (a load above the core count "
         f"means other work competed with the benchmark)."),
        "",
        "## End to end",
        "",
        main_table(report["rows"], clips),
        "",
        ("fps are video frames per second of wall time (with sampling, frames passed over count too); real-time "
         "factor = processing time / playback time; efficiency = end-to-end fps / min(decode ceiling, encoder "
         "ceiling in video frames). See benchmarks/README.md."),
        "",
        "## Encoder ceilings",
        "",
        encoder_table(report["measurements"]["encoder"], specs),
        "",
        "## Memory against video length",
        "",
        memory_text(report["memory"]),
        "",
        "## Fast mode on the fixture clips",
        "",
        fast_text(report["fast_mode"]),
        "",
        "## The long real clip, against PySceneDetect and FFmpeg",
        "",
        long_clip.text(report["long_clip"]),
        "",
    ])
    path.write_text(text)
    return text


def plot_fps(path: Path, rows: Sequence[Dict[str, Any]]) -> None:
    """End-to-end fps against frame height: a colour per configuration, a line per codec
    (H.264 circles, others squares), against playback speed and the paper's speed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import LogLocator, ScalarFormatter

    figure, axes = plt.subplots(figsize=(9, 5.5))
    series: Dict[tuple, List[tuple]] = {}
    for row in rows:
        if row.get("end_to_end_fps"):
            series.setdefault((row["config"], row["codec"]), []).append((row["height"], row["end_to_end_fps"]))
    configs = sorted({config for config, _ in series})
    colours = {config: plt.get_cmap("tab10")(index % 10) for index, config in enumerate(configs)}
    for (config, codec), points in sorted(series.items()):
        heights, speeds = zip(*sorted(points), strict=True)
        axes.plot(heights, speeds, color=colours[config], marker="o" if codec == "h264" else "s",
                  linestyle="-" if codec == "h264" else "--", label=f"{config} ({codec})")
    axes.axhline(PLAYBACK_FPS, color="black", linewidth=1, label=f"playback ({PLAYBACK_FPS:g} fps)")
    axes.axhline(PAPER_FPS, color="grey", linestyle=":", linewidth=1.5, label=f"paper: {PAPER_FPS:g} fps (GTX 960)")
    heights = sorted({row["height"] for row in rows})
    axes.set(xscale="log", yscale="log", xlabel="frame height (pixels)", ylabel="end-to-end fps (video frames/s)",
             title="vidaesthetic score_video speed")
    axes.set_xticks(heights, [str(h) for h in heights])
    axes.minorticks_off()
    axes.yaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
    axes.yaxis.set_major_formatter(ScalarFormatter())
    axes.grid(True, which="major", alpha=0.3)
    axes.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    figure.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(figure)


# --------------------------------------------------------------------------- command line


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="4 s clips without 2160p, one repeat, a 1 min 720p memory check, the long clip "
                             "(about 10 min on 2 cores)")
    parser.add_argument("--videos", nargs="+", type=Path, help="measure these videos instead of the standard clips")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--out", type=Path, default=HERE / "results", help="folder for results.json/.md and fps.png")
    parser.add_argument("--clips-dir", type=Path, default=HERE / ".clips", help="cache of generated clips")
    parser.add_argument("--clips", help=f"standard clips to use, of {','.join(STANDARD_CLIPS)}")
    parser.add_argument("--duration", type=float, help="seconds per standard clip (default 20, --quick 4)")
    parser.add_argument("--repeats", type=int, help="timed repeats, median reported (default 3, --quick 1)")
    parser.add_argument("--backends", help="decoders for the baseline rows (default: every one installed)")
    parser.add_argument("--model-backends", help="decoders for the ResNet-50 rows (default: pyav on CPU, all on CUDA)")
    parser.add_argument("--precisions",
                        help="ResNet-50 precisions (default: fp32,bf16 on CPU, and int8 with ONNX Runtime; bf16 on CUDA)")
    parser.add_argument("--batch-size", type=int, help="frames per model call (default 32 on CPU, 256 on CUDA)")
    parser.add_argument("--model-sample-fps", type=float,
                        help="ResNet-50 rows score this many frames per second of video, 0 every frame "
                             "(default 10 on CPU, where ResNet-50 is slower than playback; 0 on CUDA)")
    parser.add_argument("--compile", action="store_true", help="also measure torch.compile (slow to start)")
    parser.add_argument("--memory-clip", choices=("360p", "720p", "1080p"), help="default 1080p, --quick 720p")
    parser.add_argument("--memory-seconds", type=float, help="long clip of the memory check (default 600, --quick 60)")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory check")
    parser.add_argument("--fast-videos", type=Path, default=FIXTURE_VIDEOS, help="real clips for the fast-mode check")
    parser.add_argument("--no-fast", action="store_true", help="skip the fast-mode check")
    parser.add_argument("--no-long", action="store_true",
                        help="skip the long real clip (fixtures at 1080p, > 2 min) against PySceneDetect and FFmpeg")
    return with_defaults(parser.parse_args(argv), parser)


def with_defaults(args: argparse.Namespace, parser: argparse.ArgumentParser) -> argparse.Namespace:
    """Fill in what depends on --quick and on the device."""
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda, but no usable CUDA device is present")
    cuda = args.device == "cuda"
    installed = va.available_backends()
    names = args.clips or ",".join(name for name in STANDARD_CLIPS if not (args.quick and name == "2160p"))
    args.clips = names.split(",")
    unknown = [name for name in args.clips if name not in STANDARD_CLIPS]
    if unknown:
        parser.error(f"unknown clips {unknown}; choose from {','.join(STANDARD_CLIPS)}")
    args.duration = args.duration or (4.0 if args.quick else 20.0)
    args.repeats = args.repeats or (1 if args.quick else 3)
    args.backends = args.backends.split(",") if args.backends else installed
    args.model_backends = (args.model_backends.split(",") if args.model_backends
                           else installed if cuda else ["pyav"])
    missing = sorted(set(args.backends + args.model_backends) - set(installed))
    if missing:
        parser.error(f"backends not available here: {missing}; installed: {installed}")
    on_cpu = "fp32,bf16,int8" if int8.available() else "fp32,bf16"
    args.precisions = (args.precisions or ("bf16" if cuda else on_cpu)).split(",")
    if not set(args.precisions) <= {"fp32", "bf16", "fp16", "int8"}:
        parser.error(f"precisions are fp32, bf16, fp16 or int8, not {args.precisions}")
    args.batch_size = args.batch_size or (256 if cuda else 32)
    sample = args.model_sample_fps if args.model_sample_fps is not None else (0 if cuda else 10)
    args.model_sample_fps = sample or None
    args.memory_clip = args.memory_clip or ("720p" if args.quick else "1080p")
    args.memory_seconds = args.memory_seconds or (60.0 if args.quick else 600.0)
    return args


def input_clips(args: argparse.Namespace) -> List[Clip]:
    if args.videos:
        try:
            return [describe_clip(path.stem, path) for path in args.videos]
        except va.VidaestheticError as error:
            sys.exit(f"fps.py: {error}")
    return [describe_clip(name, cached_clip(args.clips_dir, STANDARD_CLIPS[name], args.duration))
            for name in args.clips]


def main() -> None:
    args = parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    clips = input_clips(args)
    configs = configurations(args, args.backends)
    processes = FreshProcesses()
    try:
        machine = processes.run(describe_machine, device=args.device)
        with tempfile.TemporaryDirectory() as folder:
            weights = random_weights(Path(folder))
            measurements = measure_clips(clips, configs, weights, args, processes)
            memory = {"skipped": "--no-memory"} if args.no_memory else memory_check(args, processes)
            fast = {"skipped": "--no-fast"} if args.no_fast else fast_mode_section(args, processes, weights)
            if args.no_long:
                long = {"skipped": "--no-long"}
            else:
                log("the long real clip, against the peers")
                long = long_clip.measure(args.clips_dir, FIXTURE_VIDEOS.parent, weights)
    finally:
        processes.close()
    report = {
        "machine": machine,
        "settings": {key: str(value) if isinstance(value, Path) else value for key, value in vars(args).items()},
        "clips": [asdict(clip) for clip in clips],
        "configs": [{"name": c.name, **asdict(c)} for c in configs],
        "measurements": measurements,
        "rows": table_rows(clips, configs, measurements),
        "memory": memory,
        "fast_mode": fast,
        "long_clip": long,
        "load_average_at_end": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "wall_seconds": time.perf_counter() - STARTED,
    }
    (args.out / "results.json").write_text(json.dumps(report, indent=2, default=str))
    plot_fps(args.out / "fps.png", report["rows"])
    print(write_markdown(args.out / "results.md", report, clips, encoder_specs(configs)))
    log(f"wrote {args.out}/results.json, results.md, fps.png in {report['wall_seconds']:.0f} s")


if __name__ == "__main__":
    main()
