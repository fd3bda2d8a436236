"""Wording shared by the input checks, so every "too large" message reads the same."""

from __future__ import annotations

_MB = 1024 * 1024
_KB = 1024


def describe_bytes(count: int) -> str:
    """A byte count as people write it: 25 MB, 1.5 MB, 64 KB, 1000 bytes."""
    if count >= _MB:
        return f"{count // _MB} MB" if count % _MB == 0 else f"{count / _MB:.1f} MB"
    if count >= _KB and count % _KB == 0:
        return f"{count // _KB} KB"
    return f"{count} bytes"


def too_large_message(what: str, max_bytes: int) -> str:
    return f"{what} is larger than {describe_bytes(max_bytes)}"
