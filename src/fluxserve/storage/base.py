"""The media storage contract, and the key rules every backend shares.

A key is a relative, slash-separated path such as "outputs/<request_id>/output-0.png". Its
extension decides its content type, so every backend answers the same type for the same key.
Its first folder decides who may read it: keys under `outputs/` are public (clients get URLs
to them); every other key (inputs, datasets, fetched LoRA files, checkpoints) is private and
has no URL at all.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Protocol

MAX_KEY_LENGTH = 1024
# Letters, digits and "._~-" only; a segment may not start with "." (no "..", no hidden files).
_SEGMENT = re.compile(r"^[A-Za-z0-9_~-][A-Za-z0-9._~-]*$")
_DEFAULT_CONTENT_TYPE = "application/octet-stream"
PUBLIC_PREFIX = "outputs/"
CONTENT_TYPES: dict[str, str] = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "gif": "image/gif",
    "json": "application/json",
    "zip": "application/zip",
    "txt": "text/plain",
    "safetensors": _DEFAULT_CONTENT_TYPE,
}
"""Extension -> content type; any other extension is application/octet-stream."""


class MediaStorage(Protocol):
    """Where output images and trained files live, and the URLs clients fetch them from."""

    def put(self, key: str, data: bytes, content_type: str) -> str:
        """Store `data` under `key` (replacing what was there) and return its public URL; for
        a private key, where it is kept (a locator no client can fetch)."""
        ...

    def get(self, key: str) -> tuple[bytes, str] | None:
        """The bytes and content type under `key`, or None when nothing is stored there."""
        ...

    def url_for(self, key: str) -> str:
        """The public URL of `key` (whether or not it is stored yet); ValueError for a private
        key."""
        ...

    def url_expires_at(self) -> datetime | None:
        """The earliest time a URL that `url_for` gives from now on may stop working; None
        when URLs do not expire."""
        ...

    def delete_prefix(self, prefix: str) -> None:
        """Delete every key in the folder `prefix` (e.g. "outputs/<request_id>")."""
        ...


def validate_key(key: str) -> str:
    """`key` itself when it is a safe storage key; ValueError saying why not otherwise."""
    if not key:
        raise ValueError("storage key is empty")
    if len(key) > MAX_KEY_LENGTH:
        raise ValueError(f"storage key is longer than {MAX_KEY_LENGTH} characters")
    if "\\" in key:
        raise ValueError(f"storage key {key!r} contains a backslash")
    if key.startswith("/") or re.match(r"^[A-Za-z]:", key):
        raise ValueError(f"storage key {key!r} is an absolute path")
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            raise ValueError(f"storage key {key!r} has an empty, '.' or '..' segment")
        if not _SEGMENT.match(segment):
            raise ValueError(
                f"storage key {key!r} may hold only letters, digits and '._~-', "
                "and no segment may start with '.'"
            )
    return key


def is_public_key(key: str) -> bool:
    """Whether `key` is an output, which clients may fetch by URL."""
    return key.startswith(PUBLIC_PREFIX)


def public_key(key: str) -> str:
    """`key` when it is a valid public key; ValueError (never a URL) for a private one."""
    validate_key(key)
    if not is_public_key(key):
        raise ValueError(f"storage key {key!r} is private and has no URL")
    return key


def validate_prefix(prefix: str) -> str:
    """A folder prefix without its trailing slash; ValueError when it is not a safe key."""
    return validate_key(prefix.removesuffix("/"))


def content_type_for(key: str) -> str:
    """The content type that `key`'s extension stands for."""
    name = key.rsplit("/", 1)[-1]
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return CONTENT_TYPES.get(extension, _DEFAULT_CONTENT_TYPE)


def check_content_type(key: str, content_type: str) -> None:
    """ValueError unless `content_type` is the one that `key`'s extension stands for."""
    given = content_type.split(";", 1)[0].strip().lower()
    expected = content_type_for(key)
    if given != expected:
        raise ValueError(
            f"content type {content_type!r} does not match storage key {key!r}, "
            f"whose extension stands for {expected!r}"
        )
