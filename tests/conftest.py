import builtins
import errno
import io
import os

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


@pytest.fixture
def permission_denied(monkeypatch):
    """``deny(path)``: from now on this process cannot read that file (as after chmod 000) or create anything in
    that folder (as after chmod 555).

    Root ignores file modes, and CI runs as root, so the refusal is simulated where Python asks the system:
    ``os.access`` says no, and opening, creating, making a folder or moving a file there raises
    ``PermissionError(13, 'Permission denied', path)``. FFmpeg's own opening of a file is not covered.
    """
    files, folders = set(), set()
    access, open_, os_open, mkdir, replace = os.access, builtins.open, os.open, os.mkdir, os.replace

    def key(path) -> str:
        return "" if isinstance(path, int) else os.path.abspath(os.fsdecode(path))

    def in_folder(path) -> bool:
        return os.path.dirname(key(path)) in folders

    def refuse(path):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fsdecode(path))

    def checked_access(path, mode, **kwargs):
        if key(path) in files or (key(path) in folders and mode & os.W_OK):
            return False
        return access(path, mode, **kwargs)

    def checked_open(file, mode="r", *args, **kwargs):
        if key(file) in files or (set(mode) & set("wax+") and in_folder(file) and not os.path.exists(file)):
            refuse(file)
        return open_(file, mode, *args, **kwargs)

    def checked_os_open(path, flags, *args, **kwargs):
        if key(path) in files or (flags & os.O_CREAT and in_folder(path) and not os.path.exists(path)):
            refuse(path)
        return os_open(path, flags, *args, **kwargs)

    def checked_mkdir(path, *args, **kwargs):
        if in_folder(path) and not os.path.exists(path):
            refuse(path)
        return mkdir(path, *args, **kwargs)

    def checked_replace(source, target, **kwargs):
        for path in (source, target):
            if in_folder(path):
                refuse(path)
        return replace(source, target, **kwargs)

    for module, name, function in [(os, "access", checked_access), (builtins, "open", checked_open),
                                   (io, "open", checked_open), (os, "open", checked_os_open),
                                   (os, "mkdir", checked_mkdir), (os, "replace", checked_replace)]:
        monkeypatch.setattr(module, name, function)

    def deny(path) -> None:
        (folders if os.path.isdir(path) else files).add(key(path))

    return deny
