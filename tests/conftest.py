import pytest

from media import FIXTURES, segments_video


@pytest.fixture(scope="session")
def bsk_video(tmp_path_factory):
    """Blurred, sharp, black: one second each at 25 fps."""
    return segments_video(tmp_path_factory.mktemp("media") / "bsk.mp4", "bsk")


@pytest.fixture
def fixtures_dir():
    if not FIXTURES.is_dir():
        pytest.skip(f"real media not present at {FIXTURES}")
    return FIXTURES
