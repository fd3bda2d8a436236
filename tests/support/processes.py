"""Finding a fluxserve server's engine process (a `multiprocessing` spawn child)."""

from __future__ import annotations

import time
from pathlib import Path


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def engine_pid(server_pid: int, timeout_s: float = 60.0) -> int:
    """The pid of the server's engine child: spawned by `multiprocessing`, not its resource
    tracker."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for child in _children(server_pid):
            line = _cmdline(child)
            if "spawn_main" in line and "resource_tracker" not in line:
                return child
        time.sleep(0.1)
    raise AssertionError(f"no engine process under {server_pid} within {timeout_s} s")


def wait_gone(pid: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while Path(f"/proc/{pid}").exists():
        status = Path(f"/proc/{pid}/status")
        try:
            if "zombie" in status.read_text():
                return
        except OSError:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"process {pid} still alive after {timeout_s} s")
        time.sleep(0.05)
