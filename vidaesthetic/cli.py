"""The ``vidaesthetic`` command: thin click commands over the public API."""

from __future__ import annotations

import csv
import functools
import json
import logging
import os
import signal
import sys
import threading
import traceback
import webbrowser
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Sequence, Union

import click

from ._internal.atomic import check_output_directory
from ._version import __version__
from .apps.explain import guided_saliency, load_target, parse_target, save_overlay
from .apps.best import SHOT_FORMATS, best_frame, save_best
from .apps.rank import IMAGE_SUFFIXES, find_images, rank_images
from .apps.view import page_for, serve
from .batch import (
    Job,
    parse_shard,
    plan_jobs,
    run_jobs,
    shard_from_environment,
    shard_jobs,
    worker_threads,
)
from .curve.readers import SCORE_FILES, read_curve
from .curve.record import ScoreCurve
from .curve.scoring import score_video
from .curve.smoothing import DEFAULT_TIME_CONSTANT, smooth
from .curve.spots import DEFAULT_MAX_SIMILARITY, DEFAULT_MIN_GAP, find_spots
from .errors import InputError, VidaestheticError
from .models import (
    DEFAULT_MODEL,
    cache_dir,
    fetch_release,
    import_release,
    installed_weights,
    load_model,
    read_metadata,
)
from .models.base import RESIZES
from .models.registry import GET_LEARNED_MODEL, MODELS, PRECISIONS
from .output.folder import IMAGE_FORMATS, SCORES_FILE, spot_image_name
from .output.index import IndexRow, batch_root, write_index
from .output.markers import MARKER_FORMATS
from .output.plot import PLOT_FORMATS, plot_curve
from .output.scores import save_scores_csv
from .output.ranked import copy_ranked
from .pipeline import spots_job
from .settings import SpotSettings
from .timecode import format_timecode
from .video import BACKENDS, Sampling, open_video

INPUT_PATH = click.Path(path_type=Path, readable=False)
"""A path the library opens itself, so that an unreadable one is reported in its one-line form."""
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141
_NOTHING_WRITTEN = "nothing was written for the unfinished work"
_INTERRUPTED = {
    "spots": "the video being processed left no outputs (finished videos are kept; run again to go on)",
    "weights": "the partial download is kept and resumes on the next `vidaesthetic weights fetch`",
}


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM is handled like Ctrl-C: unwind, discard unfinished outputs, say so."""
    raise KeyboardInterrupt


def _fail(message: str, code: int) -> None:
    click.echo(f"vidaesthetic: error: {message}", err=True)
    sys.exit(code)


class _Commands(click.Group):
    """Turns every failure into one line on stderr and an exit code; ``--debug`` shows tracebacks."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except VidaestheticError as error:
            _fail(str(error), error.exit_code)
        except BrokenPipeError:  # the reader went away (e.g. `| head`): stop quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(EXIT_BROKEN_PIPE)
        except KeyboardInterrupt:
            click.echo(f"vidaesthetic: interrupted; {_INTERRUPTED.get(ctx.invoked_subcommand, _NOTHING_WRITTEN)}",
                       err=True)
            sys.exit(EXIT_INTERRUPTED)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as error:  # a bug: say so in one line, traceback only on request
            if ctx.obj and ctx.obj.get("debug"):
                traceback.print_exc()
            _fail(f"internal error: {type(error).__name__}: {error} (run with --debug for details)", 1)


class _Smoothing(click.ParamType):
    """``--smoothing``: a time constant in seconds, or ``authors``."""

    name = "SECONDS|authors"

    def convert(self, value: Any, param: Optional[click.Parameter], ctx: Optional[click.Context]) -> Any:
        if value == "authors" or isinstance(value, float):
            return value
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is neither a time constant in seconds nor 'authors'", param, ctx)
        if not seconds >= 0:
            self.fail(f"a time constant must be at least 0, not {value}", param, ctx)
        return seconds


SMOOTHING = _Smoothing()


def _smoothing(value: Union[float, str]) -> Dict[str, Any]:
    """``--smoothing``'s value as the keyword arguments of :func:`smooth` (and of ``SpotSettings``)."""
    if value == "authors":
        return {"method": "authors", "time_constant": DEFAULT_TIME_CONSTANT}
    return {"method": "kalman", "time_constant": float(value)}


def _sampling(stride: Optional[int], sample_fps: Optional[float]) -> Sampling:
    if stride is not None and sample_fps is not None:
        raise InputError("use either --stride or --sample-fps, not both")
    try:
        return Sampling(stride=stride or 1, fps=sample_fps)
    except ValueError as error:
        raise InputError(str(error)) from None


def _apply(options: list, command: Callable) -> Callable:
    for option in reversed(options):
        command = option(command)
    return command


def model_options(command: Callable) -> Callable:
    """Options shared by every command that runs a model, on images as well as on video."""
    return _apply([
        click.option("--model", "model_name", type=click.Choice(list(MODELS)), default=None,
                     help="Model (default: the paper's model when installed, else baseline)."),
        click.option("--weights", type=INPUT_PATH, default=None,
                     help="Weights file (.safetensors) of the learned model."),
        click.option("--precision", type=click.Choice(list(PRECISIONS)), default="auto", show_default=True,
                     help="auto: bfloat16 on CUDA, float32 on CPU; bf16 and int8 (the paper's model, "
                          "pip install 'vidaesthetic[int8]') are faster on CPUs that have the instructions."),
        click.option("--compile", "compile_model", is_flag=True, help="torch.compile the network (slow first batch)."),
        click.option("--resize", type=click.Choice(list(RESIZES)), default="direct", show_default=True,
                     help="direct: each frame straight to 224 x 224, antialiased; authors: squashed to 256 x 256, "
                          "then bilinear to 224 without antialiasing, as the authors' demo did."),
        click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda[:N]."),
        click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True),
        click.option("--quiet", "-q", is_flag=True, help="No progress bar."),
    ], command)


def scoring_options(command: Callable) -> Callable:
    """Options shared by every command that scores video."""
    return model_options(_apply([
        click.option("--backend", type=click.Choice(["auto", *BACKENDS]), default="auto", show_default=True,
                     help="Video decoder."),
        click.option("--stride", type=click.IntRange(min=1), default=None, help="Score every K-th frame."),
        click.option("--sample-fps", type=click.FloatRange(min=0, min_open=True), default=None,
                     help="Score this many frames per second."),
        click.option("--smoothing", type=SMOOTHING, default=DEFAULT_TIME_CONSTANT, show_default=True,
                     help="Kalman time constant in seconds (0: none), or 'authors': the authors' video tool's "
                          "curve (forward filter over the whole video, normalised to 0..1)."),
    ], command))


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vidaesthetic")
@click.option("--debug", is_flag=True, help="Show tracebacks of internal errors.")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Find the most aesthetically pleasing moments of a video."""
    ctx.obj = {"debug": debug}
    _log_to_stderr()
    signal.signal(signal.SIGTERM, _terminate)


class _LowercaseLevel(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        level = "note" if record.levelno == logging.INFO else record.levelname.lower()
        return f"vidaesthetic: {level}: {record.getMessage()}"


def _log_to_stderr() -> None:
    """Library notices and warnings (e.g. skipped corrupt frames) as one line each on stderr."""
    logger = logging.getLogger("vidaesthetic")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_LowercaseLevel())
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)


@main.command()
@click.argument("videos", nargs=-1, required=True, type=INPUT_PATH)
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Output folder (default: VIDEO_spots/ here; one subfolder per video when several or a folder).")
@click.option("--top", type=click.IntRange(min=1), default=None, help="Number of spots (default: automatic).")
@click.option("--min-gap", type=click.FloatRange(min=0), default=DEFAULT_MIN_GAP, show_default=True,
              help="Seconds between spots.")
@click.option("--format", "image_format", type=click.Choice(list(IMAGE_FORMATS)), default="jpg", show_default=True)
@click.option("--plot-format", type=click.Choice(list(PLOT_FORMATS)), default="png", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the spots document to stdout.")
@click.option("--no-report", is_flag=True, help="Do not write report.html (the page to look at the spots).")
@click.option("--fast/--dense", default=None,
              help="Fast: a coarse pass, then every frame only around the candidates; dense: every frame "
                   "(default: fast for a learned model on a CPU, else dense).")
@click.option("--per-shot", type=click.IntRange(min=0), default=None,
              help="Spots per shot at most (default: one per 10 s of shot; 0: no limit).")
@click.option("--max-similarity", type=click.FloatRange(-1, 1), default=DEFAULT_MAX_SIMILARITY, show_default=True,
              help="Skip spots whose embedding is this similar (cosine) to a better one; 1 keeps all.")
@click.option("--export", "export_formats", default="", metavar="FORMATS",
              help=f"Also write spot markers for editors and players, comma-separated: {','.join(MARKER_FORMATS)}.")
@click.option("--recursive", "-r", is_flag=True, help="Look for videos in subfolders of folders too.")
@click.option("--force", is_flag=True, help="Process videos whose results are already there too.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=1, show_default=True,
              help="Videos processed in parallel (processes).")
@click.option("--isolate", is_flag=True,
              help="Run each video in a worker process, so a decoder crash fails only that video "
                   "(always so with --jobs 2 or more).")
@click.option("--shard", default=None, metavar="I/N",
              help="Process only share I of N (0-based); under torchrun RANK/WORLD_SIZE are used.")
@scoring_options
def spots(videos: Sequence[Path], output: Optional[Path], top: Optional[int], min_gap: float, image_format: str,
          plot_format: str, as_json: bool, no_report: bool, fast: Optional[bool], per_shot: Optional[int],
          max_similarity: float,
          export_formats: str, recursive: bool, force: bool, jobs: int, isolate: bool, shard: Optional[str],
          model_name: Optional[str], weights: Optional[Path], precision: str, compile_model: bool, resize: str,
          device: str, batch_size: int, backend: str, stride: Optional[int], sample_fps: Optional[float],
          smoothing: Union[float, str], quiet: bool) -> None:
    """Write the best key frames of each VIDEO (or of the videos in a folder) with spots.json, scores.csv and a plot.

    Videos already done with the same settings are skipped; a bad file is
    reported and the others go on; the exit code is non-zero if any failed.
    """
    settings = SpotSettings(
        model_name=model_name, weights=weights, device=device, precision=precision, compile=compile_model,
        resize=resize,
        batch_size=batch_size, backend=backend, sampling=_sampling(stride, sample_fps),
        **{("smoothing" if key == "method" else key): value for key, value in _smoothing(smoothing).items()},
        top=top, min_gap=min_gap, per_shot=per_shot, max_similarity=None if max_similarity >= 1 else max_similarity,
        image_format=image_format, plot_format=plot_format, fast=fast, report=not no_report,
        markers=tuple(name.strip().lower() for name in export_formats.split(",") if name.strip()),
        progress=False if quiet or jobs > 1 else None, threads=worker_threads(jobs) if jobs > 1 else None,
    )
    planned = plan_jobs(videos, output, recursive)
    index, count = parse_shard(shard) if shard else shard_from_environment()
    planned = shard_jobs(planned, index, count)
    single = len(planned) == 1 and not any(video.is_dir() for video in videos)
    # One page over the batch, kept current; a share of a sharded batch would overwrite the others' rows.
    root = batch_root([job.out_dir for job in planned]) if settings.report and count == 1 else None
    rows = {job.video: IndexRow(job.video, job.out_dir) for job in planned}
    if root is not None:
        write_index(root, list(rows.values()))

    def reported(job: Job, document: Optional[dict], error: Optional[VidaestheticError]) -> None:
        if root is not None:
            rows[job.video].error = None if error is None else str(error)
            write_index(root, list(rows.values()))
        if error is not None:
            if not single:
                click.echo(f"vidaesthetic: error: {error}", err=True)
        elif as_json:
            click.echo(json.dumps(document, indent=2))
        else:
            _summarise(document, job.out_dir)

    work = functools.partial(spots_job, settings=settings)
    report = run_jobs(planned, work, settings.digest(), parallel=jobs, force=force, on_result=reported,
                      isolate=isolate)
    if single and report.failed:
        raise report.failed[0][1]
    if not single:
        click.echo(f"vidaesthetic: {report.summary()} (of {len(planned)} videos"
                   f"{f' in share {index}/{count}' if count > 1 else ''})", err=True)
    if report.failed:
        _fail(f"{len(report.failed)} of {len(planned)} videos failed",
              max(error.exit_code for _, error in report.failed))


def _summarise(document: dict, out_dir: Path) -> None:
    count = len(document["spots"])
    selection = document.get("selection", {})
    why = "; ".join(filter(None, [selection.get("shortfall"), ", ".join(selection.get("relaxed", []))]))
    click.echo(f"{document['video']['path']}: {count} spot{'s' * (count != 1)} -> {out_dir}/"
               f"{f' ({why})' if why else ''}{_mode(document)}", err=True)
    for spot in document["spots"]:
        click.echo(f"  #{spot['rank']:<3d} {spot['timecode']}  score {spot['score']:.4g}  {spot['image']}"
                   f"{_recurrences(spot.get('duplicates', []))}")


def _mode(document: dict) -> str:
    """Fast mode said on the terminal line, and how to score every frame when it was not asked for."""
    sampling = document.get("sampling", {})
    if sampling.get("mode") != "fast":
        return ""
    scored = f"{document['frames_scored']} of ~{document['video']['frame_count']} frames scored"
    return f" [fast mode: {scored}{'; --dense scores every frame' * (sampling.get('chosen') != 'asked')}]"


def _recurrences(duplicates: Sequence[dict], shown: int = 3) -> str:
    """Where else a spot's picture was seen, as a terminal line ends."""
    if not duplicates:
        return ""
    times = ", ".join(duplicate["timecode"] for duplicate in duplicates[:shown])
    more = f" and {len(duplicates) - shown} more" if len(duplicates) > shown else ""
    return f"  (also at {times}{more})"


@main.command()
@click.argument("source", type=INPUT_PATH)
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Plot file, .png/.svg/.pdf (default: SOURCE_curve.png here).")
@click.option("--top", type=click.IntRange(min=1), default=None, help="Number of spots to mark.")
@click.option("--min-gap", type=click.FloatRange(min=0), default=DEFAULT_MIN_GAP, show_default=True)
@click.option("--data", type=click.Path(path_type=Path), default=None,
              help="Also write the curve plotted as CSV (frame,time,raw,smoothed,pickable,reason).")
@scoring_options
def curve(source: Path, output: Optional[Path], top: Optional[int], min_gap: float, data: Optional[Path],
          model_name: Optional[str], weights: Optional[Path], precision: str, compile_model: bool, resize: str,
          device: str, batch_size: int, backend: str, stride: Optional[int], sample_fps: Optional[float],
          smoothing: Union[float, str], quiet: bool) -> None:
    """Plot the score curve of a video, or re-plot saved scores without decoding: a scores.json, the
    authors' .score file (timed by its video beside it), or a CSV with frame,time,raw columns."""
    for path in (output, data):
        if path is not None:
            check_output_directory(path.parent)
    saved = source.suffix.lower() in SCORE_FILES
    if saved:
        scores = read_curve(source)
    else:
        with open_video(source, backend=backend) as video:
            model = load_model(model_name, weights=weights, device=device, precision=precision,
                               compile=compile_model, resize=resize)
            scores = score_video(
                video, model, sampling=_sampling(stride, sample_fps), batch_size=batch_size,
                cache=Path(f"{source.stem}_spots") / SCORES_FILE, progress=False if quiet else None,
            )
    scores = smooth(scores, **_smoothing(smoothing))
    found = find_spots(scores, top=top, min_gap=min_gap)
    output = output or Path(f"{Path(scores.video.path).stem}_curve.png")
    thumbnails = _saved_thumbnails(source.parent if source.suffix.lower() == ".json" else None, found)
    plot_curve(scores, found, path=output, thumbnails=thumbnails)
    if data is not None:
        save_scores_csv(scores, data)
    click.echo(f"{output}" + (f" {data}" if data is not None else ""), err=True)


def _saved_thumbnails(folder: Optional[Path], found: Sequence) -> Optional[list]:
    """Key frames an earlier ``spots`` run wrote for these same spots, if all are there."""
    if folder is None or not found:
        return None
    import numpy as np
    from PIL import Image

    pictures = []
    for spot in found:
        paths = [folder / spot_image_name(spot, fmt) for fmt in IMAGE_FORMATS]
        existing = next((path for path in paths if path.is_file()), None)
        if existing is None:
            return None
        with Image.open(existing) as image:
            image.thumbnail((640, 160))
            pictures.append(np.asarray(image.convert("RGB")))
    return pictures


@main.command()
@click.argument("output", type=INPUT_PATH)
@click.option("--serve", "serve_folder", is_flag=True,
              help="Serve the folder on 127.0.0.1, for browsers that refuse local video files.")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True, help="With --serve (0: any).")
@click.option("--no-browser", is_flag=True, help="Print the page's address without opening a browser.")
def view(output: Path, serve_folder: bool, port: int, no_browser: bool) -> None:
    """Open the report.html of a spots OUTPUT folder (or a batch's index.html) in the default browser."""
    page = page_for(output)
    if not serve_folder:
        url = page.resolve().as_uri()
        click.echo(url)
        if not no_browser:
            webbrowser.open(url)
        return
    server, url = serve(page, port)
    click.echo(f"{url}  (serving {page.parent} on 127.0.0.1 only; Ctrl-C stops)")
    if not no_browser:
        webbrowser.open(url)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        server.server_close()


@main.group()
def weights() -> None:
    """Install and inspect the learned model's weights."""


@weights.command()
@click.option("--force", is_flag=True, help="Download and convert again even if installed.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
def fetch(force: bool, quiet: bool) -> None:
    """Download the paper authors' released model, verify it and convert it into the cache."""
    path = fetch_release(force=force, progress=False if quiet else None)
    click.echo(str(path))


@weights.command(name="import")
@click.argument("location", type=INPUT_PATH)
@click.option("--mean", "mean_image", type=INPUT_PATH, default=None,
              help="The mean image (mean_bgr.p); default: next to the checkpoint.")
@click.option("--channel-mean", is_flag=True,
              help="Without a mean image, subtract the authors' channel means (scores move by 1-36 %).")
def import_(location: Path, mean_image: Optional[Path], channel_mean: bool) -> None:
    """Convert a resnet_v1_50 TensorFlow checkpoint you already have (folder, prefix or .index)."""
    click.echo(str(import_release(location, mean_image, channel_mean)))


@weights.command(name="list")
def list_() -> None:
    """Installed weights files with their model, id and origin."""
    found = installed_weights()
    if not found:
        click.echo(f"no weights installed in {cache_dir()}; {GET_LEARNED_MODEL}", err=True)
    for path in found:
        metadata = read_metadata(path)
        origin = (metadata.get("provenance") or {}).get("source", "unknown origin")
        click.echo(f"{metadata['name']}  {metadata['weights_id']}  {origin}  {path}")


@weights.command(name="path")
def path_() -> None:
    """The weights cache folder."""
    click.echo(str(cache_dir()))


@main.command()
@click.argument("paths", nargs=-1, required=True, type=INPUT_PATH)
@click.option("--top", type=click.IntRange(min=1), default=None, help="Keep only the best K images.")
@click.option("--copy-to", type=click.Path(path_type=Path), default=None,
              help="Copy the ranked images into this folder as 001_NAME, 002_NAME, ...")
@click.option("--link-to", type=click.Path(path_type=Path), default=None,
              help="Like --copy-to, with symbolic links to the originals instead of copies.")
@click.option("--json", "as_json", is_flag=True, help="Print the ranking as JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="Print the ranking as CSV.")
@click.option("--recursive/--no-recursive", default=True, show_default=True, help="Look into subfolders of folders.")
@model_options
def rank(paths: Sequence[Path], top: Optional[int], copy_to: Optional[Path], link_to: Optional[Path], as_json: bool,
         as_csv: bool, recursive: bool, model_name: Optional[str], weights: Optional[Path], precision: str,
         compile_model: bool, resize: str, device: str, batch_size: int, quiet: bool) -> None:
    """Sort images (files, or the images in folders) best first; unreadable files are skipped with a warning."""
    if copy_to is not None and link_to is not None:
        raise InputError("use either --copy-to or --link-to, not both")
    if as_json and as_csv:
        raise InputError("use either --json or --csv, not both")
    destination = copy_to or link_to
    if destination is not None:
        check_output_directory(destination)
    files = find_images(paths, recursive=recursive)
    if not files:
        raise InputError(f"no images found (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
    model = load_model(model_name, weights=weights, device=device, precision=precision, compile=compile_model,
                       resize=resize)
    report = rank_images(files, model, batch_size=batch_size, top=top, progress=False if quiet else None)
    for path, reason in report.failed:
        click.echo(f"vidaesthetic: warning: {path}: {reason}", err=True)
    if not report.ranked:
        raise InputError(f"none of the {len(files)} files could be read as an image")
    if destination is not None:
        copy_ranked(report, destination, mode="copy" if copy_to is not None else "link")
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
    elif as_csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["rank", "score", "width", "height", "path"])
        writer.writerows([image.rank, f"{image.score:.6g}", image.width, image.height, image.path]
                         for image in report.ranked)
    else:
        for image in report.ranked:
            click.echo(f"#{image.rank:<4d} {image.score:.4g}  {image.width}x{image.height}  {image.path}")
    if destination is not None:
        click.echo(f"{len(report.ranked)} images -> {destination}/", err=True)


@main.command()
@click.argument("target", metavar="IMAGE_OR_VIDEO[@TIME]")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Figure file, .png/.svg/.pdf (default: NAME_saliency.png here).")
@click.option("--weights", type=INPUT_PATH, default=None,
              help="Weights file (.safetensors) of the learned model.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda[:N].")
def explain(target: str, output: Optional[Path], weights: Optional[Path], device: str) -> None:
    """Show which pixels raise a frame's score (guided backprop, as in the paper's Fig. 9).

    IMAGE_OR_VIDEO is an image file, or a video with an optional time after
    '@' in seconds or HH:MM:SS.mmm (default: the middle), e.g. clip.mp4@12.5.
    Needs the learned model: the baseline has no gradients to show.
    """
    output = output or Path(f"{parse_target(target)[0].stem}_saliency.png")
    if output.suffix.lower().lstrip(".") not in PLOT_FORMATS:
        raise InputError(f"unsupported figure format {output.suffix!r}; use one of {', '.join(PLOT_FORMATS)}", output)
    check_output_directory(output.parent)
    frame, description = load_target(target)
    model = load_model(DEFAULT_MODEL, weights=weights, device=device, precision="fp32")
    save_overlay(frame, guided_saliency(model, frame), output, title=f"{description} - {model.name}")
    click.echo(str(output), err=True)


@main.command()
@click.argument("source", metavar="VIDEO_OR_STREAM")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=Path("best.jpg"), show_default=True,
              help="Image to write: .jpg, .png or .webp.")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Stop after this many seconds (for live sources that do not end).")
@click.option("--smoothing", type=click.FloatRange(min=0), default=0.3, show_default=True,
              help="Kalman time constant in seconds (0: none).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=10.0, show_default=True,
              help="Seconds without data after which a stream has stalled.")
@click.option("--weights", type=INPUT_PATH, default=None,
              help="Weights file (.safetensors) of the learned model.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda[:N].")
def best(source: str, output: Path, duration: Optional[float], smoothing: float, timeout: float,
         weights: Optional[Path], device: str) -> None:
    """Save the single best frame of a short capture (the paper's "best handy shot").

    VIDEO_OR_STREAM is a video file, a URL (rtsp://, http(s)://, udp://,
    tcp://), '-' for stdin, a named pipe, or a webcam (/dev/video0, webcam:0).
    """
    if output.suffix.lower() not in SHOT_FORMATS:
        raise InputError(f"unsupported image format {output.suffix!r}; use one of {', '.join(SHOT_FORMATS)}", output)
    check_output_directory(output.parent)
    model = load_model(weights=weights, device=device)
    shot = best_frame(source, model, time_constant=smoothing, duration=duration, read_timeout=timeout)
    save_best(shot, output)
    click.echo(f"{output}  {format_timecode(shot.time)}  score {shot.score:.4g}", err=True)
