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


@pytest.fixture(autouse=True)
def no_downloads_and_a_private_cache(tmp_path_factory, monkeypatch):
    """Tests never touch the network or the user's weights cache (subprocesses inherit this)."""
    monkeypatch.setenv("VIDAESTHETIC_OFFLINE", "1")
    monkeypatch.setenv("VIDAESTHETIC_CACHE", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.delenv("VIDAESTHETIC_WEIGHTS", raising=False)
