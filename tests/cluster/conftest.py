"""A small real cluster on loopback: PostgreSQL, one API node (`serve --no-workers`) and worker
nodes (`fluxserve worker`) started and killed as processes, with liveness timings short enough
for a test (leases of seconds, not minutes)."""

from __future__ import annotations

import base64
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from fluxserve.db.database import Database
from fluxserve.db.schema import job_attempts, jobs
from tests.api.conftest import write_config
from tests.support.media import dataset_zip
from tests.support.servers import FluxServer, run_cli

LIVENESS = {
    "job_lease_s": 4.0,
    "node_heartbeat_s": 0.5,
    "node_timeout_s": 3.0,
    "sweep_interval_s": 0.5,
    "drain_s": 0.2,
    # getDataBatch answers at once (202) instead of waiting up to 60 s for the job to end.
    "batch_sync_wait_s": 0.0,
}
TRAINER = "flux-2-pro-text-to-image-trainer-712"
TRAINER_PATH = f"/{TRAINER}/v1/flux-2-pro-text-to-image-trainer-request"


@dataclass
class Cluster:
    data_dir: Path
    config: Path
    database_url: str
    api: FluxServer
    key: str
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def headers(self) -> dict[str, str]:
        return {"Ocp-Apim-Subscription-Key": self.key}

    def start_worker(self, models: str) -> subprocess.Popen[bytes]:
        log = (self.data_dir / f"worker-{len(self.workers)}.log").open("wb")
        process = subprocess.Popen(
            [
                sys.executable, "-m", "fluxserve", "worker", "--models", models,
                "--data-dir", str(self.data_dir), "--config", str(self.config),
                "--database-url", self.database_url,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.workers.append(process)
        return process

    def worker_log(self, index: int) -> str:
        return (self.data_dir / f"worker-{index}.log").read_text(errors="replace")

    def wait_until_running(self, *indexes: int, timeout_s: float = 300) -> None:
        """Until workers `indexes` have started (each logs so once its start-up is done)."""
        deadline = time.monotonic() + timeout_s
        while not all("worker node" in self.worker_log(i) for i in indexes):
            for index in indexes:
                code = self.workers[index].poll()
                assert code is None, f"worker {index} exited {code}: {self.worker_log(index)}"
            assert time.monotonic() < deadline, [self.worker_log(i) for i in indexes]
            time.sleep(0.2)

    def engines_started(self, index: int) -> int:
        """How many engine processes worker `index` has started (its log says each)."""
        return len(re.findall(r"engine process \d+ started", self.worker_log(index)))

    def train(self, steps: int) -> str:
        """Submit a LoRA training: a job that runs for a while, in its own lane."""
        zipped = base64.b64encode(dataset_zip(2, size=32)).decode()
        body = {"image_data_url": f"data:application/zip;base64,{zipped}", "steps": steps}
        response = httpx.post(
            f"{self.api.url}{TRAINER_PATH}", headers=self.headers, json=body, timeout=60
        )
        assert response.status_code == 202, response.text
        return str(response.json()["request_id"])

    def status(self, request_id: str) -> dict[str, object]:
        url = f"{self.api.url}/v2/requests/status/{request_id}"
        body: dict[str, object] = httpx.get(url, headers=self.headers, timeout=30).json()
        return body

    def wait_for(self, request_id: str, *, step_at_least: int, timeout_s: float = 300) -> None:
        """Until the job runs and has reported `step_at_least` steps of progress."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            body = self.status(request_id)
            progress = body.get("progress")
            if isinstance(progress, dict) and int(progress.get("step", 0)) >= step_at_least:
                return
            assert body["status"] in ("QUEUED", "PROCESSING"), body
            time.sleep(0.2)
        raise AssertionError(f"{request_id} never reached step {step_at_least}")

    def request_id_of(self, alias: str) -> str:
        """The request id of the job a getDataBatch `requestId` names."""
        db = Database.open(self.database_url)
        try:
            with db.read() as conn:
                found = conn.scalar(select(jobs.c.request_id).where(jobs.c.alias == alias))
        finally:
            db.close()
        assert found is not None, alias
        return str(found)

    def attempts(self, request_id: str) -> list[tuple[str, str | None]]:
        """(node, outcome) of every attempt at the job, oldest first."""
        db = Database.open(self.database_url)
        try:
            with db.read() as conn:
                rows = conn.execute(
                    select(job_attempts.c.node_id, job_attempts.c.outcome)
                    .where(job_attempts.c.request_id == request_id)
                    .order_by(job_attempts.c.started_at)
                ).all()
        finally:
            db.close()
        return [(str(row.node_id), row.outcome) for row in rows]


@pytest.fixture(scope="session")
def demo_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("demo-weights")


@pytest.fixture
def cluster(tmp_path: Path, demo_cache_dir: Path, postgres_url: str) -> Iterator[Cluster]:
    config = write_config(tmp_path / "config.toml", demo_cache_dir, **LIVENESS)
    # Frequent checkpoints: a rescued training resumes instead of starting over.
    text = config.read_text().replace("checkpoint_every = 500", "checkpoint_every = 5")
    config.write_text(text)
    env = {"FLUXSERVE_DATABASE_URL": postgres_url}
    key = run_cli("keys", "create", "--credit", "100", data_dir=tmp_path, env=env).splitlines()[-1]
    api = FluxServer(
        tmp_path, config=config, extra_args=("--no-workers", "--database-url", postgres_url)
    ).start()
    cluster = Cluster(tmp_path, config, postgres_url, api, key)
    try:
        yield cluster
    finally:
        for process in cluster.workers:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                process.wait(30)
        api.stop()
