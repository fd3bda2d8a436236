"""Scheduling over real HTTP (docs/scheduling.md): an API node (`serve --no-workers`) takes
the submissions first, and only then `fluxserve worker` processes start claiming, so the order
of claims is the scheduler's and not a race with the submits. The order is read back from the
database (`job_attempts.started_at`). SQLite with one worker process; PostgreSQL with two."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from fluxserve.db.database import Database
from fluxserve.db.schema import job_attempts, jobs
from tests.api.conftest import write_config
from tests.support.servers import FluxServer, run_cli

MODEL = "flux-1-schnell"
BODY = {"prompt": "a red bicycle", "num_steps": 1, "width": 64, "height": 64}
DEFAULT_FAIR_SHARE_S = 60.0
WAIT_S = 240.0


@dataclass
class Node:
    """An API node without workers, the worker processes started later, and the database."""

    tmp: Path
    config: Path
    database_url: str | None
    worker_count: int
    api: FluxServer | None = None
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    db: Database | None = None

    def cli_env(self) -> dict[str, str]:
        return {"FLUXSERVE_DATABASE_URL": self.database_url} if self.database_url else {}

    def start(self) -> Node:
        extra = ("--no-workers",)
        if self.database_url:
            extra += ("--database-url", self.database_url)
        self.api = FluxServer(self.tmp, config=self.config, extra_args=extra).start()
        self.db = Database.open(self.database_url or f"sqlite:///{self.tmp / 'fluxserve.db'}")
        return self

    def key(self, priority: int = 0) -> tuple[str, str]:
        """(key id, plain key) of a new funded key."""
        out = run_cli(
            "keys", "create", "--credit", "100", "--priority", str(priority),
            "--config", str(self.config), data_dir=self.tmp, env=self.cli_env(),
        )  # fmt: skip
        lines = out.strip().splitlines()
        return lines[0].split()[2], lines[-1]

    def start_workers(self) -> None:
        assert self.api is not None
        for index in range(self.worker_count):
            args = [
                sys.executable, "-m", "fluxserve", "worker", "--models", MODEL,
                "--workers", "1", "--max-batch", "1", "--data-dir", str(self.tmp),
                "--config", str(self.config), "--public-url", self.api.url,
            ]  # fmt: skip
            if self.database_url:
                args += ["--database-url", self.database_url]
            log = (self.tmp / f"worker-{index}.log").open("wb")
            self.workers.append(subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT))

    def stop(self) -> None:
        for worker in self.workers:
            worker.terminate()
        for worker in self.workers:
            worker.wait(60)
        if self.api is not None:
            self.api.stop()
        if self.db is not None:
            self.db.close()

    def submit(self, plain_key: str, path: str = "getDataBatch") -> httpx.Response:
        assert self.api is not None
        url = f"{self.api.url}/{MODEL}/v1/{path}"
        headers = {"Ocp-Apim-Subscription-Key": plain_key}
        return httpx.post(url, headers=headers, json=BODY, timeout=WAIT_S)

    def rows(self, *where: Any) -> list[Any]:
        """Jobs (with their first attempt's start, if any), in the order they were claimed."""
        assert self.db is not None
        query = (
            select(jobs, job_attempts.c.started_at)
            .outerjoin(job_attempts, job_attempts.c.request_id == jobs.c.request_id)
            .where(*where)
            .order_by(job_attempts.c.started_at.is_(None), job_attempts.c.started_at)
        )
        with self.db.read() as conn:
            return list(conn.execute(query))

    def count(self, *where: Any) -> int:
        assert self.db is not None
        with self.db.read() as conn:
            return int(conn.scalar(select(func.count()).select_from(jobs).where(*where)) or 0)

    def wait_until(self, done: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + WAIT_S
        while not done():
            if any(w.poll() is not None for w in self.workers):
                raise AssertionError(f"a worker exited: {self.worker_logs()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"not within {WAIT_S} s: {what}\n{self.worker_logs()}")
            time.sleep(0.1)

    def worker_logs(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.tmp.glob("worker-*.log"))


NodeFactory = Callable[[dict[str, float]], Node]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def node(
    request: pytest.FixtureRequest, tmp_path: Path, demo_cache_dir: Path
) -> Iterator[NodeFactory]:
    """Start an API node whose config has these `[scheduling]` settings."""
    database_url = request.getfixturevalue("postgres_url") if request.param != "sqlite" else None
    started: list[Node] = []

    def start(scheduling: dict[str, float]) -> Node:
        config = write_config(
            tmp_path / "config.toml",
            demo_cache_dir,
            rate_limit_per_minute=100_000,
            batch_sync_wait_s=0.0,
            drain_s=0.0,
        )
        extra = ["[limits]", "max_active_jobs_per_key = 1000", "[scheduling]"]
        extra += [f"{name} = {value}" for name, value in scheduling.items()]
        config.write_text(config.read_text() + "\n".join(extra) + "\n")
        workers = 1 if database_url is None else 2
        started.append(Node(tmp_path, config, database_url, workers).start())
        return started[-1]

    yield start
    for each in started:
        each.stop()


def test_a_second_key_starts_within_a_few_claims_of_a_backlog(node: NodeFactory) -> None:
    """Bound: B's first job waits for at most 1 + ⌊(B's submit − A's first submit) /
    fair_share_s⌋ of A's jobs (A's line is spaced fair_share_s apart, B's job ranks at its own
    submit time), plus one per extra worker whose claim runs at the same moment."""
    n = node({})
    a_id, a_key = n.key()
    b_id, b_key = n.key()
    for _ in range(100):
        assert n.submit(a_key).status_code == 202
    assert n.submit(b_key).status_code == 202
    n.start_workers()
    n.wait_until(lambda: n.count(jobs.c.key_id == b_id, jobs.c.state == "COMPLETED") == 1, "B")

    claimed = [row for row in n.rows() if row.started_at is not None]
    position = [row.key_id for row in claimed].index(b_id)
    first_a = min(row.created_at for row in n.rows(jobs.c.key_id == a_id))
    [b_job] = n.rows(jobs.c.key_id == b_id)
    waited = (b_job.created_at - first_a).total_seconds()
    bound = 1 + int(waited // DEFAULT_FAIR_SHARE_S) + (n.worker_count - 1)
    assert position <= bound <= 4, (position, bound, waited)
    # A real backlog: nearly all of A's jobs started after B's (the workers keep going while
    # this test reads, so what is still QUEUED now proves nothing).
    behind = [
        row for row in n.rows(jobs.c.key_id == a_id)
        if row.started_at is None or row.started_at > b_job.started_at
    ]  # fmt: skip
    assert len(behind) >= 90, len(behind)


def test_a_sync_request_starts_before_queued_async_work(node: NodeFactory) -> None:
    n = node({})
    a_id, a_key = n.key()
    for _ in range(10):
        assert n.submit(a_key).status_code == 202
    answer: list[httpx.Response] = []
    caller = threading.Thread(target=lambda: answer.append(n.submit(a_key, "getData")))
    caller.start()
    n.wait_until(lambda: n.count(jobs.c.key_id == a_id) == 11, "the sync job is queued")
    n.start_workers()
    caller.join(WAIT_S)

    assert answer and answer[0].status_code == 200, answer and answer[0].text
    assert answer[0].json()["output"]
    claimed = [row for row in n.rows() if row.started_at is not None]
    sync_position = [row.alias for row in claimed].index(None)  # getDataBatch jobs have one
    assert sync_position <= n.worker_count - 1  # the first claim (of each worker, at once)


def test_a_low_priority_job_completes_while_high_priority_keeps_the_queue_full(
    node: NodeFactory,
) -> None:
    """Priority 10 at aging_s = 1 is a 10 s head start, and no fair share spacing: high jobs
    submitted up to 10 s after the low one go first, later ones after it, so it completes."""
    aging_s, priority = 1.0, 10
    n = node({"aging_s": aging_s, "fair_share_s": 0})
    low_id, low_key = n.key()
    high_id, high_key = n.key(priority=priority)
    for _ in range(3):
        assert n.submit(high_key).status_code == 202
    assert n.submit(low_key).status_code == 202
    # High jobs submitted just after the low one are queued before any worker runs: started
    # first, an idle worker could take the low job before the first of them arrived.
    for _ in range(5):
        assert n.submit(high_key).status_code == 202
    n.start_workers()

    def low_done_while_feeding() -> bool:
        # Topped up on every look, so the workers never find the high key's queue empty.
        while n.count(jobs.c.key_id == high_id, jobs.c.state == "QUEUED") < 5:
            assert n.submit(high_key).status_code == 202
        return n.count(jobs.c.key_id == low_id, jobs.c.state == "COMPLETED") == 1

    n.wait_until(low_done_while_feeding, "the low-priority job")

    [low] = n.rows(jobs.c.key_id == low_id)
    highs = n.rows(jobs.c.key_id == high_id)
    head_start = timedelta(seconds=priority * aging_s)
    overtook = [h for h in highs if h.created_at > low.created_at and _before(h, low)]
    passed_over = [h for h in highs if h.created_at < low.started_at and _after(h, low)]
    jumped = [h for h in highs if h.created_at > low.created_at + head_start and _before(h, low)]
    assert overtook, "high priority goes first within its head start"
    assert passed_over, "the queue still held high-priority work when the low job started"
    assert len(jumped) <= n.worker_count - 1, jumped  # only claims at the same moment


def _started(row: Any) -> datetime | None:
    return row.started_at  # type: ignore[no-any-return]


def _after(row: Any, other: Any) -> bool:
    return _started(row) is None or _started(row) > other.started_at


def _before(row: Any, other: Any) -> bool:
    started = _started(row)
    return started is not None and started < other.started_at
