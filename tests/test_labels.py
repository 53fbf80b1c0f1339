"""Real clips against hand labels: with default settings no spot lands in a labelled bad stretch
(a fade, defocus, a covered lens, heavy motion blur)."""

import json

import pytest

from media import FIXTURES
from vidaesthetic import SpotSettings, extract_spots


def clips_with_bad_stretches():
    """Labelled clips that have bad stretches; for the others any spot passes, so they would test nothing."""
    labels_file = FIXTURES / "labels.json"
    if not labels_file.is_file():
        return []
    labels = json.loads(labels_file.read_text())
    return sorted(name for name, label in labels.items() if not name.startswith("_") and label["bad"])


@pytest.mark.parametrize("name", clips_with_bad_stretches())
def test_no_spot_in_a_labelled_bad_stretch(name, fixtures_dir, tmp_path):
    bad = json.loads((fixtures_dir / "labels.json").read_text())[name]["bad"]
    (video,) = (fixtures_dir / "videos").glob(f"{name}.*")
    document = extract_spots(video, tmp_path, settings=SpotSettings(progress=False))
    times = [spot["time"] for spot in document["spots"]]
    assert times, "no spots at all"
    in_bad = [(time, [start, end]) for time in times for start, end in bad if start <= time <= end]
    assert not in_bad, f"spots in bad stretches (time, stretch): {in_bad}"
