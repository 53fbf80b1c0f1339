import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from media import FIXTURES, blurred, textured
from vidaesthetic.errors import InputError, OutputError
from vidaesthetic.apps.rank import find_images, rank_images
from vidaesthetic.output.ranked import copy_ranked
from vidaesthetic.models import BaselineModel

SHARP = textured(320, 240, seed=1)


def save(path: Path, picture: np.ndarray, **options) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(picture).save(path, **options)
    return path


@pytest.fixture(scope="module")
def model():
    return BaselineModel()


@pytest.fixture
def collection(tmp_path):
    """Four pictures whose names sort in the opposite order to their quality."""
    folder = tmp_path / "photos"
    save(folder / "a_black.png", np.zeros_like(SHARP))
    save(folder / "b_dark.jpg", (SHARP * 0.15).astype(np.uint8), quality=95)
    save(folder / "c_blurred.png", blurred(SHARP, 2))
    save(folder / "d_sharp.png", SHARP)
    return folder


def names(report):
    return [image.path.name for image in report.ranked]


def test_ranks_sharp_above_blurred_above_dark_above_black(collection, model):
    report = rank_images(collection, model, batch_size=3, progress=False)
    assert names(report) == ["d_sharp.png", "c_blurred.png", "b_dark.jpg", "a_black.png"]
    assert [image.rank for image in report.ranked] == [1, 2, 3, 4]
    assert report.ranked[0].score > report.ranked[1].score > report.ranked[2].score > report.ranked[3].score
    assert (report.ranked[0].width, report.ranked[0].height) == (320, 240)
    assert report.failed == []
    assert report.model["name"] == "baseline"


def test_top_keeps_the_best(collection, model):
    report = rank_images(collection, model, top=2, progress=False)
    assert names(report) == ["d_sharp.png", "c_blurred.png"]
    with pytest.raises(InputError):
        rank_images(collection, model, top=0)


class Watching(BaselineModel):
    """The baseline, keeping every batch of frames it is shown."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def embed(self, frames):
        self.seen.append(frames.clone())
        return super().embed(frames)


def test_exif_orientation_is_honoured(tmp_path):
    upright = textured(200, 120, seed=2)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: turn the stored pixels a quarter clockwise to display them
    save(tmp_path / "upright.jpg", upright, quality=95)
    save(tmp_path / "turned.jpg", np.rot90(upright).copy(), quality=95, exif=exif)
    watching = Watching()
    report = rank_images([tmp_path / "upright.jpg", tmp_path / "turned.jpg"], watching, progress=False)
    assert {(image.width, image.height) for image in report.ranked} == {(200, 120)}
    seen_upright, seen_turned = watching.seen[0].float()
    assert (seen_upright - seen_turned).abs().mean() < 5  # JPEG noise only
    assert (seen_upright - seen_turned.rot90(1, dims=(1, 2))).abs().mean() > 20  # the stored pixels differ
    scores = {image.path.name: image.score for image in report.ranked}
    assert scores["turned.jpg"] == pytest.approx(scores["upright.jpg"], rel=0.02)


def test_unreadable_files_are_reported_and_skipped(collection, model, permission_denied):
    good = (collection / "d_sharp.png").read_bytes()
    (collection / "truncated.png").write_bytes(good[: len(good) // 2])
    save(collection / "cut.jpg", SHARP, quality=95)
    (collection / "cut.jpg").write_bytes((collection / "cut.jpg").read_bytes()[:3000])
    (collection / "notes.jpg").write_text("not a picture")
    permission_denied(save(collection / "locked.png", SHARP))
    report = rank_images(collection, model, batch_size=2, progress=False)
    assert names(report) == ["d_sharp.png", "c_blurred.png", "b_dark.jpg", "a_black.png"]
    reasons = {path.name: reason for path, reason in report.failed}
    assert set(reasons) == {"truncated.png", "cut.jpg", "notes.jpg", "locked.png"}
    assert reasons["locked.png"] == "Permission denied"
    assert "truncated" in reasons["cut.jpg"]
    assert "not an image" in reasons["notes.jpg"]
    assert all(len(reason) < 80 for reason in reasons.values())


def test_finds_images_recursively(tmp_path):
    top = save(tmp_path / "b.png", SHARP)
    upper = save(tmp_path / "C.JPG", SHARP)
    nested = save(tmp_path / "sub" / "deeper" / "a.webp", SHARP)
    animated = save(tmp_path / "sub" / "z.gif", SHARP)
    (tmp_path / "notes.txt").write_text("not an image")
    save(tmp_path / ".thumbnails" / "x.png", SHARP)
    save(tmp_path / "._b.png", SHARP)
    assert find_images(tmp_path) == sorted([top, upper, nested, animated])
    assert find_images(tmp_path, recursive=False) == sorted([top, upper])
    odd = save(tmp_path / "picture.data", SHARP, format="PNG")
    assert find_images([odd, tmp_path / "b.png", odd]) == [odd, top]
    with pytest.raises(InputError, match="no such file"):
        find_images([tmp_path / "missing"])
    report = rank_images(tmp_path, BaselineModel(), progress=False)
    assert len(report.ranked) == 4 and report.failed == []


def test_copies_the_best_with_rank_prefixes(collection, model, tmp_path):
    same_name = save(tmp_path / "elsewhere" / "d_sharp.png", blurred(SHARP, 1))
    report = rank_images([collection, same_name], model, progress=False)
    written = copy_ranked(report, tmp_path / "best", top=3)
    assert [path.name for path in written] == ["001_d_sharp.png", "002_d_sharp.png", "003_c_blurred.png"]
    assert sorted(os.listdir(tmp_path / "best")) == [path.name for path in written]
    for path, image in zip(written, report.ranked):
        assert not path.is_symlink() and path.read_bytes() == image.path.read_bytes()


def test_links_point_at_the_originals_and_leave_them_alone(collection, model, tmp_path):
    report = rank_images(collection, model, progress=False)
    original = collection / "d_sharp.png"
    original.chmod(0o640)
    written = copy_ranked(report, tmp_path / "best", mode="link")
    assert [path.name for path in written] == [f"{rank:03d}_{name}" for rank, name in enumerate(names(report), 1)]
    assert all(path.is_symlink() and Path(os.readlink(path)).is_absolute() for path in written)
    assert written[0].resolve() == original.resolve()
    assert original.stat().st_mode & 0o777 == 0o640


def test_a_failed_copy_leaves_nothing(collection, model, tmp_path):
    report = rank_images(collection, model, progress=False)
    (collection / "b_dark.jpg").unlink()  # the third-best image vanishes before it is copied
    with pytest.raises(OutputError, match="b_dark.jpg"):
        copy_ranked(report, tmp_path / "best", top=4)
    assert not (tmp_path / "best").exists()
    with pytest.raises(InputError):
        copy_ranked(report, tmp_path / "best", mode="move")


def test_real_photographs_put_the_motion_blurred_clock_last():
    folder = FIXTURES / "images"
    if not folder.is_dir():
        pytest.skip(f"real images not present at {folder}")
    report = rank_images(folder, BaselineModel(), progress=False)
    assert len(report.ranked) == 8 and report.failed == []
    assert "skimage_clock_motion.png" in names(report)[-2:]
