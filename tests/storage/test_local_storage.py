from __future__ import annotations

import os
from pathlib import Path

import pytest

from fluxserve.storage.base import MediaStorage
from fluxserve.storage.local import LocalStorage

KEY = "outputs/flux-dev_0190a1b2/output-0.png"


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "media", "http://127.0.0.1:8000/")


def test_is_a_media_storage(storage: LocalStorage) -> None:
    backend: MediaStorage = storage
    assert backend.url_for(KEY) == f"http://127.0.0.1:8000/media/{KEY}"


def test_put_then_get(storage: LocalStorage) -> None:
    url = storage.put(KEY, b"png bytes", "image/png")
    assert url == f"http://127.0.0.1:8000/media/{KEY}"
    assert storage.get(KEY) == (b"png bytes", "image/png")
    assert (storage.root / KEY).read_bytes() == b"png bytes"


def test_path_for_points_at_the_file(storage: LocalStorage) -> None:
    storage.put(KEY, b"abc", "image/png")
    path = storage.path_for(KEY)
    assert path is not None
    assert path == (storage.root / KEY).resolve()
    assert path.read_bytes() == b"abc"


def test_missing_keys_are_none(storage: LocalStorage) -> None:
    assert storage.get("outputs/none/output-0.png") is None
    assert storage.path_for("outputs/none/output-0.png") is None
    storage.put(KEY, b"abc", "image/png")
    assert storage.path_for("outputs/flux-dev_0190a1b2") is None  # a folder is not media


@pytest.mark.parametrize("key", ["../outside.png", "/etc/passwd", "a\\b.png", "a/../../x.png"])
def test_traversal_is_refused(storage: LocalStorage, tmp_path: Path, key: str) -> None:
    (tmp_path / "outside.png").write_bytes(b"secret")
    with pytest.raises(ValueError):
        storage.put(key, b"x", "image/png")
    with pytest.raises(ValueError):
        storage.url_for(key)
    assert storage.get(key) is None
    assert storage.path_for(key) is None
    assert (tmp_path / "outside.png").read_bytes() == b"secret"


def test_links_out_of_the_root_are_not_followed(storage: LocalStorage, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.png").write_bytes(b"secret")
    storage.root.mkdir(parents=True)
    (storage.root / "linked").symlink_to(outside, target_is_directory=True)
    assert storage.path_for("linked/secret.png") is None
    assert storage.get("linked/secret.png") is None
    with pytest.raises(ValueError, match="outside"):
        storage.put("linked/new.png", b"x", "image/png")
    assert not (outside / "new.png").exists()


def test_overwrite_replaces_the_file_whole(storage: LocalStorage) -> None:
    storage.put(KEY, b"old", "image/png")
    with open(storage.root / KEY, "rb") as reader:
        storage.put(KEY, b"new", "image/png")
        # A reader that opened the old file keeps the old bytes: the new ones were renamed in.
        assert reader.read() == b"old"
    assert storage.get(KEY) == (b"new", "image/png")
    assert sorted(p.name for p in (storage.root / KEY).parent.iterdir()) == ["output-0.png"]


def test_failed_write_leaves_the_old_file_and_no_temp(
    storage: LocalStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage.put(KEY, b"old", "image/png")

    def broken_fsync(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        storage.put(KEY, b"new", "image/png")
    assert storage.get(KEY) == (b"old", "image/png")
    assert sorted(p.name for p in (storage.root / KEY).parent.iterdir()) == ["output-0.png"]


def test_files_are_readable_by_others(storage: LocalStorage) -> None:
    storage.put(KEY, b"x", "image/png")
    assert (storage.root / KEY).stat().st_mode & 0o777 == 0o644
