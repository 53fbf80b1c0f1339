"""``python -m train``: prepare AROD data, fit, evaluate, run the AVA protocol, export weights."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Optional, Set

import click
import numpy as np

from vidaesthetic.errors import InputError, VidaestheticError
from vidaesthetic.models import load_model

from .ava import FinetuneConfig, finetune_accuracy, probe_accuracy, split_images
from .data import split
from .evaluate import agreement, score_images, table
from .export import export as export_weights
from .fit import ARCHITECTURES, FitConfig, fit as run_fit
from .prepare import load_manifest, prepare as prepare_data


class _Commands(click.Group):
    """User errors as one line and exit code 2, as in the vidaesthetic command."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except VidaestheticError as error:
            click.echo(f"train: error: {error}", err=True)
            sys.exit(error.exit_code)
        except KeyboardInterrupt:
            click.echo("train: interrupted; the last checkpoint is intact (--resume continues)", err=True)
            sys.exit(130)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Training recipes for vidaesthetic's aesthetic-space model."""
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s", stream=sys.stderr)


@main.command()
@click.option("--list", "list_path", required=True, type=click.Path(path_type=Path), help="AROD list (url;faves;views).")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Dataset folder.")
@click.option("--workers", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--retries", type=click.IntRange(min=0), default=3, show_default=True)
@click.option("--max-side", type=click.IntRange(min=16), default=None, help="Downscale so the longest side fits.")
def prepare(list_path: Path, out: Path, workers: int, retries: int, max_side: Optional[int]) -> None:
    """Download (or copy) the listed images, verify them and write the manifest."""
    report = prepare_data(list_path, out, workers=workers, retries=retries, max_side=max_side)
    click.echo(f"{report.fetched} fetched, {report.present} already present, "
               f"{sum(report.failures.values())} failed, {sum(report.skipped.values())} list rows skipped")
    for reason, count in (report.skipped + report.failures).most_common():
        click.echo(f"  {count:6d}  {reason}")
    click.echo("S = log(faves)/log(views) of the images:\n" + report.histogram)


@main.command()
@click.option("--data", required=True, type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Run folder.")
@click.option("--arch", type=click.Choice(list(ARCHITECTURES)), default="resnet50", show_default=True)
@click.option("--width", type=float, default=1.0, show_default=True, help="Channel multiplier.")
@click.option("--size", type=click.IntRange(min=32), default=224, show_default=True)
@click.option("--embedding-dim", type=click.IntRange(min=2), default=1000, show_default=True)
@click.option("--batch", type=click.IntRange(min=1), default=32, show_default=True, help="Triplets per step and process.")
@click.option("--steps", type=click.IntRange(min=1), default=10_000, show_default=True)
@click.option("--lr", type=float, default=1e-3, show_default=True)
@click.option("--momentum", type=float, default=0.9, show_default=True)
@click.option("--weight-decay", type=float, default=1e-4, show_default=True)
@click.option("--margin", type=float, default=0.5, show_default=True)
@click.option("--directional-margin", type=float, default=0.2, show_default=True)
@click.option("--raw-embeddings", is_flag=True, help="Triplet term on raw, not L2-normalised, embeddings.")
@click.option("--alpha", type=float, default=0.3, show_default=True)
@click.option("--beta", type=float, default=0.7, show_default=True)
@click.option("--val-fraction", type=click.FloatRange(0, 0.9), default=0.1, show_default=True)
@click.option("--eval-every", type=click.IntRange(min=1), default=500, show_default=True)
@click.option("--checkpoint-every", type=click.IntRange(min=1), default=500, show_default=True)
@click.option("--log-every", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="auto", show_default=True)
@click.option("--no-amp", is_flag=True, help="No bfloat16 autocast on CUDA.")
@click.option("--workers", type=click.IntRange(min=1), default=4, show_default=True, help="Image loading threads.")
@click.option("--imagenet", default="auto", show_default=True,
              help="auto (torchvision weights if cached locally), none, or a .pth file.")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its checkpoint.")
def fit(resume: bool, raw_embeddings: bool, no_amp: bool, **options) -> None:
    """Train the aesthetic space with the directional triplet loss."""
    config = FitConfig(data=str(options.pop("data")), out=str(options.pop("out")), normalize=not raw_embeddings,
                       amp=not no_amp, **options)
    metrics = run_fit(config, resume=resume)
    click.echo(json.dumps(metrics, indent=2))


@main.command(name="eval")
@click.option("--data", required=True, type=click.Path(path_type=Path))
@click.option("--weights", required=True, type=click.Path(path_type=Path))
@click.option("--split", "which", type=click.Choice(["val", "all"]), default="val", show_default=True)
@click.option("--val-fraction", type=click.FloatRange(0, 1), default=0.1, show_default=True)
@click.option("--device", default="auto", show_default=True)
@click.option("--json", "as_json", is_flag=True)
def evaluate(data: Path, weights: Path, which: str, val_fraction: float, device: str, as_json: bool) -> None:
    """Agreement of the model's order with S on held-out pairs, as in the paper's Table 2."""
    model = load_model(weights=weights, device=device, precision="fp32")
    rows = load_manifest(data)
    rows = split(rows, val_fraction)[1] if which == "val" else rows
    if len(rows) < 3:
        raise click.UsageError(f"only {len(rows)} images to evaluate")
    predicted = score_images(model, [row.path for row in rows], model.input_size[0])
    metrics = agreement(predicted, np.asarray([row.score for row in rows]))
    click.echo(json.dumps(metrics, indent=2) if as_json else table(metrics))


@main.command()
@click.option("--ava", "ava_file", required=True, type=click.Path(path_type=Path), help="AVA.txt")
@click.option("--images", required=True, type=click.Path(path_type=Path), help="Folder of <image_id>.jpg")
@click.option("--weights", required=True, type=click.Path(path_type=Path))
@click.option("--train-list", type=click.Path(path_type=Path), default=None,
              help="Ids of AVA's standard training split, one per line.")
@click.option("--test-list", type=click.Path(path_type=Path), default=None,
              help="Ids of AVA's standard test split, one per line (default: a hash split of the ids).")
@click.option("--probe", is_flag=True, help="A logistic head on the frozen embedding instead (not the paper's).")
@click.option("--epochs", type=click.IntRange(min=1), default=3, show_default=True)
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=1e-3, show_default=True)
@click.option("--batch", "batch_size", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--device", default="auto", show_default=True)
def ava(ava_file: Path, images: Path, weights: Path, train_list: Optional[Path], test_list: Optional[Path],
        probe: bool, epochs: int, lr: float, batch_size: int, device: str) -> None:
    """Binary accuracy on AVA (mean vote >= 5): the network fine-tuned, as the paper did (75.83 %), or --probe."""
    model = load_model(weights=weights, device=device, precision="fp32")
    split = split_images(ava_file, images, _ids(train_list), _ids(test_list))
    if probe:
        result = probe_accuracy(model, split, images, model.input_size[0])
    else:
        result = finetune_accuracy(model, split, images, model.input_size[0], FinetuneConfig(epochs, lr, batch_size))
    click.echo(json.dumps(result, indent=2))


def _ids(listing: Optional[Path]) -> Optional[Set[str]]:
    """Image ids of an AVA split list (one per line; a trailing .jpg is dropped)."""
    if listing is None:
        return None
    try:
        return {Path(line).stem for line in listing.read_text().split()}
    except OSError as error:
        raise InputError(f"cannot be read ({error.strerror})", listing) from None


@main.command()
@click.argument("run", type=click.Path(path_type=Path))
@click.argument("destination", type=click.Path(path_type=Path))
def export(run: Path, destination: Path) -> None:
    """Write RUN (or RUN/checkpoint.pt) as a weights file for `vidaesthetic --weights`."""
    click.echo(f"{destination} (weights id {export_weights(run, destination)})")


if __name__ == "__main__":
    main(prog_name="python -m train")
