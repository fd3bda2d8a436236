"""Media on local disk under the data folder; fluxserve itself serves the outputs at
/media/<key>, behind signed links that expire when a signer is given."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from datetime import datetime
from pathlib import Path

from fluxserve.storage.base import (
    check_content_type,
    content_type_for,
    is_public_key,
    public_key,
    validate_key,
    validate_prefix,
)
from fluxserve.storage.url_signing import UrlSigner


class LocalStorage:
    """The embedded default MediaStorage: one file per key under `root`.

    Writes are atomic (a temporary file in the same folder, then a rename), so a reader sees
    the old bytes or the new ones, never half a file. Reads of keys that `put` would refuse
    answer None, so a hostile path in a URL is simply not found.
    """

    def __init__(self, root: Path, public_base_url: str, signer: UrlSigner | None = None) -> None:
        self._root = root.resolve()
        self._base_url = public_base_url.rstrip("/")
        self._signer = signer

    @property
    def root(self) -> Path:
        return self._root

    def put(self, key: str, data: bytes, content_type: str) -> str:
        validate_key(key)
        check_content_type(key, content_type)
        path = self._inside_root(self._root / key)
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(path, data)
        return self.url_for(key) if is_public_key(key) else path.as_uri()

    def get(self, key: str) -> tuple[bytes, str] | None:
        path = self.path_for(key)
        if path is None:
            return None
        try:
            return path.read_bytes(), content_type_for(key)
        except FileNotFoundError:
            return None

    def url_for(self, key: str) -> str:
        path = public_key(key) if self._signer is None else self._signer.path(public_key(key))
        return f"{self._base_url}/media/{path}"

    def url_expires_at(self) -> datetime | None:
        return None if self._signer is None else self._signer.expires_at()

    def check_link(self, key: str, expires: str | None, sig: str | None) -> None:
        """Refuses (Forbidden, MediaLinkExpired) a link to `key` that this storage would
        not give out now; links are unsigned (always good) without a signer."""
        if self._signer is not None:
            self._signer.check(key, expires, sig)

    def delete_prefix(self, prefix: str) -> None:
        folder = self._inside_root(self._root / validate_prefix(prefix))
        if folder.is_dir() and not folder.is_symlink():
            shutil.rmtree(folder)

    def path_for(self, key: str) -> Path | None:
        """The file holding `key`, for serving it directly; None when there is none or the key
        is not a valid one. The path always lies inside the root, links resolved."""
        try:
            validate_key(key)
        except ValueError:
            return None
        path = (self._root / key).resolve()
        if not path.is_relative_to(self._root) or not path.is_file():
            return None
        return path

    def _inside_root(self, path: Path) -> Path:
        if not path.resolve().is_relative_to(self._root):
            raise ValueError(f"storage path {path} lies outside {self._root}")
        return path


def _write_atomically(path: Path, data: bytes) -> None:
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as temp:
            temp.write(data)
            temp.flush()
            os.fsync(temp.fileno())
        # mkstemp makes the file private (0600); media is public, and a front web server
        # running as another user may serve the folder.
        os.chmod(temp_name, 0o644)
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
