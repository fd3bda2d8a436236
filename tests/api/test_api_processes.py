"""`fluxserve serve --api-processes N`: N API processes accept on one port, each answers, the
workers run once in the main process, and stopping the main process stops them all."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import write_config
from tests.support.jobs import TERMINAL, submit, wait_until
from tests.support.processes import wait_gone
from tests.support.servers import FluxServer, create_key

API_PROCESSES = 2
FLUX_DEV = "/flux-dev/v1/dev/textToImage"


def _listening_inode(port: int) -> str:
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":  # LISTEN
                return fields[9]
    raise AssertionError(f"nothing listens on port {port}")


def _descendants(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
        for child in children:
            found += [child, *_descendants(child)]
    return found


def api_pids(server: FluxServer) -> list[int]:
    """The processes under the server that hold its listening socket."""
    assert server.process is not None
    socket_link = f"socket:[{_listening_inode(server.port)}]"
    holders = []
    for pid in _descendants(server.process.pid):
        try:
            links = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
        except OSError:
            continue
        if socket_link in links:
            holders.append(pid)
    return holders


@pytest.fixture
def multi(tmp_path: Path, demo_cache_dir: Path) -> Iterator[tuple[FluxServer, str]]:
    config = write_config(tmp_path / "config.toml", demo_cache_dir, rate_limit_per_minute=1000)
    key = create_key(tmp_path)
    args = ("--api-processes", str(API_PROCESSES))
    server = FluxServer(tmp_path, config=config, extra_args=args).start()
    # One process answering /health is not all of them started: the test freezes processes,
    # and one frozen in the middle of its start-up could hold the database.
    deadline = time.monotonic() + 300
    while server.logs().count("Application startup complete") < API_PROCESSES:
        assert time.monotonic() < deadline, server.logs()
        time.sleep(0.1)
    yield server, key
    server.stop()


def test_every_api_process_answers_and_jobs_run_once(multi: tuple[FluxServer, str]) -> None:
    server, key = multi
    pids = api_pids(server)
    assert len(pids) == API_PROCESSES
    assert server.process is not None and server.process.pid not in pids
    submitted = []
    for answering in pids:
        # Freeze the others: a new connection can then only be accepted by `answering`.
        frozen = [pid for pid in pids if pid != answering]
        for pid in frozen:
            os.kill(pid, signal.SIGSTOP)
        try:
            assert httpx.get(f"{server.url}/health", timeout=60).status_code == 200
            body = {"prompt": "a cat", "num_inference_steps": 1, "image_size": "64x64"}
            submitted.append(submit(server.url, FLUX_DEV, key, body))
        finally:
            for pid in frozen:
                os.kill(pid, signal.SIGCONT)
    # The main process's workers run what either API process queued.
    for request_id in submitted:
        done = wait_until(server.url, request_id, key, lambda b: b["status"] in TERMINAL)
        assert done["status"] == "COMPLETED", done
    server.stop()
    for pid in pids:
        wait_gone(pid)
