"""Which node this process is, and which it was before a restart.

A node's id is new on every start; the previous one is kept in the data folder so a restarted
single-process server rescues its own interrupted jobs at once instead of waiting for their
leases. The file is locked while the process runs: a second process of the same role on the
same folder gets a file of its own and never mistakes a live sibling for its past."""

from __future__ import annotations

import fcntl
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO


@dataclass
class NodeIdentity:
    node_id: str
    previous_id: str | None
    _handle: IO[str] | None = field(default=None, repr=False)

    @classmethod
    def acquire(cls, folder: Path, role: str) -> NodeIdentity:
        folder.mkdir(parents=True, exist_ok=True)
        for slot in range(64):
            handle = (folder / f"{role}-{slot}.id").open("a+")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            handle.seek(0)
            previous = handle.read().strip() or None
            node_id = uuid.uuid4().hex[:16]
            handle.seek(0)
            handle.truncate()
            handle.write(node_id)
            handle.flush()
            os.fsync(handle.fileno())
            return cls(node_id, previous, handle)
        return cls(uuid.uuid4().hex[:16], None)

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
