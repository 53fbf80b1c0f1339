"""train/: fit, resume, torchrun, eval, AVA and export on a tiny generated dataset.

The dataset's "faves/views" follow sharpness, so a model that learns anything
orders held-out images like S far better than chance.
"""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image, ImageFilter

from media import segments_video, textured
from train.__main__ import main as train_main
from train.prepare import prepare
from vidaesthetic._internal.atomic import TEMP_SUFFIX
from vidaesthetic.cli import main as vidaesthetic_main

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--arch", "resnet18", "--width", "0.25", "--size", "64", "--embedding-dim", "32", "--imagenet", "none",
        "--batch", "16", "--lr", "0.01", "--val-fraction", "0.25", "--workers", "2", "--device", "cpu"]


def sharpness_dataset(folder: Path, count: int = 160) -> Path:
    rng = np.random.default_rng(0)
    rows = []
    for number in range(count):
        quality = rng.uniform(0.05, 0.95)
        picture = Image.fromarray(textured(96, 96, seed=number)).filter(ImageFilter.GaussianBlur((1 - quality) * 4))
        path = folder / "source" / f"{number}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        picture.save(path)
        views = int(rng.integers(200, 5000))
        url = f"file://{path}" if number % 2 else str(path)  # both forms are accepted
        rows.append(f"{url};{max(1, round(views ** quality))};{views}")
    listing = folder / "list.txt"
    listing.write_text("# generated\n" + "\n".join(rows) + "\n")
    return prepare(listing, folder / "data", workers=4, progress=False).manifest.parent


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return sharpness_dataset(tmp_path_factory.mktemp("arod"))


def read_log(run: Path):
    with open(run / "log.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def fit_command(data, run, steps, *extra):
    return [sys.executable, "-m", "train", "fit", "--data", str(data), "--out", str(run), "--steps", str(steps),
            *TINY, *extra]


def run_train(args):
    environment = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run(args, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def trained(dataset, tmp_path_factory):
    run = tmp_path_factory.mktemp("run")
    result = CliRunner().invoke(train_main, ["fit", "--data", str(dataset), "--out", str(run), "--steps", "60",
                                             "--eval-every", "60", "--checkpoint-every", "30", *TINY])
    assert result.exit_code == 0, result.output
    return run


def test_tiny_run_learns_to_order_held_out_images(trained, dataset):
    rows = read_log(trained)
    assert [int(r["step"]) for r in rows] == list(range(10, 61, 10))
    assert float(rows[-1]["loss"]) < float(rows[0]["loss"])
    assert rows[-1]["val_agreement@0.3"] and not rows[0]["val_agreement@0.3"]
    weights = trained / "tiny.safetensors"
    assert CliRunner().invoke(train_main, ["export", str(trained), str(weights)]).exit_code == 0
    result = CliRunner().invoke(train_main, ["eval", "--data", str(dataset), "--weights", str(weights),
                                             "--val-fraction", "0.25", "--device", "cpu", "--json"])
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)
    print("held-out agreement:", {k: round(v, 3) for k, v in metrics.items() if k.startswith("agreement")})
    assert metrics["agreement@0.3"] > 0.75 and metrics["spearman"] > 0.5


def test_exported_weights_drive_vidaesthetic_spots(trained, tmp_path):
    weights = tmp_path / "tiny.safetensors"
    assert CliRunner().invoke(train_main, ["export", str(trained / "checkpoint.pt"), str(weights)]).exit_code == 0
    video = segments_video(tmp_path / "bsk.mp4", "bsk")
    result = CliRunner().invoke(vidaesthetic_main, ["spots", str(video), "--weights", str(weights),
                                                    "-o", str(tmp_path / "out"), "--json", "-q"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["model"]["name"] == "aesthetic-resnet18"
    provenance = json.loads(
        __import__("safetensors").safe_open(str(weights), "pt").metadata()["provenance"])
    assert provenance["steps"] == 60 and provenance["source"] == "vidaesthetic train/"


def test_killed_run_resumes_with_the_same_later_losses(dataset, tmp_path):
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    common = ["--checkpoint-every", "3", "--log-every", "1", "--eval-every", "100"]
    assert run_train(fit_command(dataset, straight, 12, *common)).returncode == 0
    process = subprocess.Popen(fit_command(dataset, killed, 12, *common), cwd=ROOT,
                               env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not (killed / "checkpoint.pt").exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    resumed_from = torch.load(killed / "checkpoint.pt", weights_only=True)["step"]
    assert resumed_from < 12
    result = run_train(fit_command(dataset, killed, 12, *common, "--resume"))
    assert result.returncode == 0, result.stderr
    expected = {row["step"]: row["loss"] for row in read_log(straight)}
    got = {row["step"]: row["loss"] for row in read_log(killed)}
    assert sorted(got, key=int) == sorted(expected, key=int)
    later = [step for step in expected if int(step) > resumed_from]
    assert later and all(got[step] == expected[step] for step in later)
    assert not list(killed.glob(f".*{TEMP_SUFFIX}"))


def test_two_process_torchrun_with_gloo(dataset, tmp_path):
    run = tmp_path / "ddp"
    args = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
            *fit_command(dataset, run, 3, "--log-every", "1", "--eval-every", "3")[1:]]
    result = run_train(args)
    assert result.returncode == 0, result.stderr[-3000:]
    saved = torch.load(run / "checkpoint.pt", weights_only=True)
    assert saved["step"] == 3 and len(saved["samplers"]) == 2
    assert saved["samplers"][0]["bit_generator"] != saved["samplers"][1]["bit_generator"]
    assert [int(r["step"]) for r in read_log(run)] == [1, 2, 3]


def test_resuming_with_another_model_or_nothing_is_refused(trained, dataset, tmp_path):
    runner = CliRunner()
    other = runner.invoke(train_main, ["fit", "--data", str(dataset), "--out", str(trained), "--steps", "70",
                                       "--resume", *TINY, "--arch", "resnet34"])
    assert other.exit_code == 2 and "arch" in other.output
    empty = runner.invoke(train_main, ["fit", "--data", str(dataset), "--out", str(tmp_path / "none"),
                                       "--resume", *TINY])
    assert empty.exit_code == 2 and "no checkpoint" in empty.output
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    junk = runner.invoke(train_main, ["export", str(tmp_path / "junk.pt"), str(tmp_path / "w.safetensors")])
    assert junk.exit_code == 2 and not (tmp_path / "w.safetensors").exists()


@pytest.fixture(scope="module")
def ava_votes(tmp_path_factory):
    """80 generated AVA images: sharp ones voted about 7, blurred ones about 3; 60 % good."""
    folder = tmp_path_factory.mktemp("ava")
    rng = np.random.default_rng(1)
    images, lines = folder / "images", []
    images.mkdir()
    for number in range(80):
        sharp = number % 5 < 3
        picture = Image.fromarray(textured(72, 72, seed=500 + number))
        (picture if sharp else picture.filter(ImageFilter.GaussianBlur(3))).save(images / f"{number}.jpg")
        centre = 7 if sharp else 3
        votes = np.bincount(np.clip(rng.normal(centre, 1.2, 100).round(), 1, 10).astype(int) - 1, minlength=10)
        lines.append(" ".join(map(str, [number + 1, number, *votes, 0, 0, 1])))
    (folder / "AVA.txt").write_text("\n".join(lines) + "\n")
    (folder / "test.jpgl").write_text("\n".join(str(number) for number in range(0, 80, 4)) + "\n")
    return folder


@pytest.mark.parametrize("protocol", ["finetune", "probe"])
def test_ava_accuracy_beside_the_majority_rate_on_the_standard_lists(trained, ava_votes, tmp_path, protocol):
    from train.export import export

    export(trained, tmp_path / "w.safetensors")
    arguments = ["ava", "--ava", str(ava_votes / "AVA.txt"), "--images", str(ava_votes / "images"), "--weights",
                 str(tmp_path / "w.safetensors"), "--test-list", str(ava_votes / "test.jpgl"), "--device", "cpu",
                 *(["--probe"] if protocol == "probe" else ["--epochs", "5", "--lr", "0.005", "--batch", "16"])]
    result = CliRunner().invoke(train_main, arguments)
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)
    assert metrics["test_images"] == 20 and metrics["train_images"] == 60  # the list decides the split
    assert metrics["split"].startswith("the test list given")
    assert metrics["majority_rate"] == pytest.approx(0.6)  # every 4th image: 12 of 20 sharp
    assert metrics["accuracy"] > metrics["majority_rate"]  # it learned the label, not the majority
    expected = {"finetune": "fine-tuned network (the paper's protocol)",
                "probe": "linear probe on the frozen embedding (not the paper's protocol)"}
    assert metrics["protocol"] == expected[protocol]


def test_ava_without_lists_says_it_split_by_hash(ava_votes):
    from train.ava import split_images

    split = split_images(ava_votes / "AVA.txt", ava_votes / "images", test_fraction=0.3)
    assert "not AVA's standard lists" in split.split and 10 < len(split.test) < 40
    assert not {image.image_id for image in split.train} & {image.image_id for image in split.test}


def test_a_full_disk_while_saving_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    import errno

    from train import checkpoint
    from vidaesthetic import OutputError

    checkpoint.save(tmp_path, {"step": 7})

    def full_disk(state, path):
        Path(path).write_bytes(b"half a checkpoint")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint.torch, "save", full_disk)
    with pytest.raises(OutputError, match="previous one is intact"):
        checkpoint.save(tmp_path, {"step": 8})
    monkeypatch.undo()
    assert checkpoint.load(tmp_path)["step"] == 7
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]


def test_eval_prints_the_papers_human_agreement_apart_as_what_it_is():
    """Table 2 is people against S, with no model in it: its figures stand apart, labelled, not as a column."""
    from train.evaluate import PAPER_HUMAN_AGREEMENT, THRESHOLDS, table

    metrics = {"spearman": 0.5, **{f"agreement@{t:.1f}": 0.6 for t in THRESHOLDS},
               **{f"pairs@{t:.1f}": 100 for t in THRESHOLDS}}
    model_part, reference = table(metrics).split("\n\n")
    assert all(f"{value:.2f}" not in model_part for value in PAPER_HUMAN_AGREEMENT) and "people" not in model_part
    assert "not a comparison" in reference and "people agreed with S" in reference and "no model" in reference
    assert all(f"{value:.2f}" in reference for value in PAPER_HUMAN_AGREEMENT)
