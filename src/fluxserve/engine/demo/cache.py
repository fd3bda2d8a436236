"""Build a folder once, atomically, even when several processes ask for it at the same time."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def build_once(dest: Path, build: Callable[[Path], None]) -> Path:
    """Return `dest`, first running `build` into a temporary sibling and renaming it there.

    A folder at `dest` is always complete: it only appears through the final rename. When two
    processes race, the loser's rename fails on the winner's folder and its copy is dropped."""
    if dest.is_dir():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{dest.name}.building-", dir=dest.parent))
    try:
        built = scratch / "folder"
        build(built)
        try:
            built.rename(dest)
        except OSError:
            if not dest.is_dir():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return dest
