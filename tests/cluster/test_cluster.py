"""The real topology under fire: PostgreSQL, moto's S3 server, two API nodes, two generation
workers and a trainer-only worker, all started through the CLI on loopback. While a stream of
jobs from several keys comes in, a worker is killed mid-job (-9), an API node is killed
mid-submit (-9), PostgreSQL restarts, and a worker restarts gracefully (SIGTERM). Afterwards,
from the database and over HTTP: every job ended; each COMPLETED job was charged exactly once
and its media resolve; each FAILED/ERROR job was released; every balance is its credit minus
its captures; and no job ran a second time while the node running it was alive."""

from __future__ import annotations

import base64
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text

from fluxserve.db.database import Database
from fluxserve.db.schema import job_attempts, jobs, ledger_entries, nodes, wallets
from fluxserve.storage.s3 import S3Storage
from tests.api.conftest import write_config
from tests.support.media import dataset_zip
from tests.support.private_pg import PrivatePostgres, private_postgres
from tests.support.s3 import CREDENTIALS, moto_s3
from tests.support.servers import FluxServer, run_cli

pytestmark = [pytest.mark.cluster, pytest.mark.postgres, pytest.mark.timeout(900)]

GENERATION = "flux-1-schnell,flux-dev"
TRAINER = "flux-2-pro-text-to-image-trainer-712"
KEYS = 3
JOBS_PER_KEY = 70
CREDIT_USD = 20
TERMINAL = {"COMPLETED", "FAILED", "ERROR"}
SETTINGS = {
    "rate_limit_per_minute": 1_000_000,
    "batch_sync_wait_s": 0.0,
    "job_lease_s": 20.0,
    "node_heartbeat_s": 1.0,
    "node_timeout_s": 12.0,  # longer than a PostgreSQL restart: a live node stays alive
    "sweep_interval_s": 1.0,
    "drain_s": 2.0,
}


@dataclass
class Topology:
    root: Path
    config: Path
    database_url: str
    apis: list[FluxServer]
    keys: list[str]
    postgres: PrivatePostgres
    workers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start_worker(self, name: str, models: str) -> subprocess.Popen[bytes]:
        folder = self.root / name
        folder.mkdir(parents=True, exist_ok=True)
        process = subprocess.Popen(
            [
                sys.executable, "-m", "fluxserve", "worker", "--models", models,
                "--data-dir", str(folder), "--config", str(self.config),
                "--database-url", self.database_url,
            ],
            stdout=(folder / f"worker-{time.time_ns()}.log").open("wb"),
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.workers[name] = process
        return process

    def db(self) -> Database:
        return Database.open(self.database_url)


@pytest.fixture
def topology(
    tmp_path: Path, demo_cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Topology]:
    for name, value in CREDENTIALS.items():  # every node inherits them
        monkeypatch.setenv(name, value)
    # A server of its own: this test restarts it, which must not disturb other tests.
    with private_postgres() as postgres, moto_s3() as s3:
        postgres_url = postgres.url
        bucket = s3.new_bucket()
        base_url = f"{s3.endpoint_url}/{bucket}"
        s3.publish_outputs(S3Storage(bucket, base_url, prefix="media", client=s3.client()))
        config = write_config(tmp_path / "config.toml", demo_cache_dir, **SETTINGS)
        with config.open("a") as handle:
            handle.write(
                f'[storage]\nbackend = "s3"\nbucket = "{bucket}"\nprefix = "media"\n'
                f'endpoint_url = "{s3.endpoint_url}"\npublic_base_url = "{base_url}"\n'
                "[limits]\nmax_active_jobs_per_key = 1000000\n"
            )
        env = {"FLUXSERVE_DATABASE_URL": postgres_url}
        keys = [
            run_cli(
                "keys", "create", "--credit", str(CREDIT_USD), data_dir=tmp_path, env=env
            ).splitlines()[-1]
            for _ in range(KEYS)
        ]
        args = ("--no-workers", "--database-url", postgres_url)
        apis = [
            FluxServer(tmp_path / f"api-{i}", config=config, extra_args=args).start()
            for i in range(2)
        ]
        topology = Topology(tmp_path, config, postgres_url, apis, keys, postgres)
        try:
            yield topology
        finally:
            for process in topology.workers.values():
                if process.poll() is None:
                    process.kill()
                    process.wait(30)
            for api in apis:
                api.stop()


class Submitter(threading.Thread):
    """A client of every key, sending to whichever API node answers (a dead node's requests
    go to the other one)."""

    def __init__(self, topology: Topology) -> None:
        super().__init__(daemon=True)
        self.topology = topology
        self.accepted: list[str] = []

    def run(self) -> None:
        zipped = base64.b64encode(dataset_zip(2)).decode()
        training = {"image_data_url": f"data:application/zip;base64,{zipped}", "steps": 20}
        self._send(0, f"/{TRAINER}/v1/flux-2-pro-text-to-image-trainer-request", training)
        for n in range(JOBS_PER_KEY * KEYS):
            key = n % KEYS
            if n % 2:
                body = {"prompt": f"a lighthouse #{n}", "image_size": "64x64", "seed": n}
                self._send(key, "/flux-dev/v1/dev/textToImage", body)
            else:
                body = {"prompt": f"a kite #{n}", "width": 64, "height": 64, "seed": n}
                self._send(key, "/flux-1-schnell/v1/getDataBatch", body)

    def _send(self, key: int, path: str, body: dict[str, Any]) -> None:
        headers = {"Ocp-Apim-Subscription-Key": self.topology.keys[key]}
        for attempt in range(60):
            api = self.topology.apis[(len(self.accepted) + attempt) % 2]
            try:
                response = httpx.post(f"{api.url}{path}", headers=headers, json=body, timeout=30)
            except httpx.HTTPError:
                time.sleep(0.2)  # that node is down (or PostgreSQL is restarting)
                continue
            if response.status_code in (200, 202):
                data = response.json()
                self.accepted.append(str(data.get("request_id") or data.get("requestId")))
                return
            time.sleep(0.2)
        raise AssertionError(f"{path} was never accepted")


def _pids_nodes(db: Database) -> dict[int, list[str]]:
    with db.read() as conn:
        rows = conn.execute(select(nodes.c.pid, nodes.c.id)).all()
    found: dict[int, list[str]] = {}
    for row in rows:
        found.setdefault(int(row.pid), []).append(str(row.id))
    return found


def _wait_processing_on(topology: Topology, pid: int, timeout_s: float = 120) -> None:
    """Until the worker process `pid` runs a job (so that killing it interrupts one)."""
    db = topology.db()
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            mine = _pids_nodes(db).get(pid, [])
            with db.read() as conn:
                running = conn.execute(
                    select(jobs.c.request_id).where(
                        jobs.c.state == "PROCESSING", jobs.c.node_id.in_(mine)
                    )
                ).first()
            if running is not None:
                return
            time.sleep(0.05)
    finally:
        db.close()


def _wait_all_terminal(db: Database, stall_s: float = 240) -> list[Any]:
    """Every job in the store ended; fails only if nothing moves (no job ends, no progress is
    written) for `stall_s`, naming the jobs that never ended."""
    deadline, seen = time.monotonic() + stall_s, None
    while True:
        with db.read() as conn:
            rows = conn.execute(select(jobs)).all()
        open_rows = [row for row in rows if row.state not in TERMINAL]
        if not open_rows:
            return rows
        movement = (len(open_rows), max(row.updated_at for row in rows))
        if movement != seen:
            deadline, seen = time.monotonic() + stall_s, movement
        if time.monotonic() > deadline:
            break
        time.sleep(0.5)
    stuck = [
        (r.request_id, r.model_id, r.state, r.node_id, r.attempts, r.progress, r.lease_until)
        for r in open_rows
    ]
    raise AssertionError(
        f"{len(stuck)} job(s) never ended: {stuck}; history: "
        + repr([[tuple(a)[2:] for a in _history(db, r.request_id)] for r in open_rows])
    )


def test_the_cluster_loses_nothing_and_charges_once(topology: Topology) -> None:
    g1 = topology.start_worker("g1", GENERATION)
    long_job = _submit_long_job(topology)  # g1, alone so far, takes it
    _wait_processing_on(topology, g1.pid)
    topology.start_worker("g2", GENERATION)
    topology.start_worker("t1", TRAINER)
    submitter = Submitter(topology)
    submitter.start()

    g1.send_signal(signal.SIGKILL)  # a worker dies mid-job
    g1.wait(30)
    killed = {g1.pid}
    topology.start_worker("g3", GENERATION)

    while len(submitter.accepted) < 50:
        time.sleep(0.05)
    topology.apis[0].kill()  # an API node dies mid-submit; the client goes to the other

    while len(submitter.accepted) < 80:
        time.sleep(0.05)
    before = _postmaster_started(topology)
    topology.postgres.restart()  # every node loses its connections for a moment
    assert _postmaster_started(topology) != before

    while len(submitter.accepted) < 100:
        time.sleep(0.05)
    g2 = topology.workers["g2"]
    g2.send_signal(signal.SIGTERM)  # a graceful restart of a worker node
    assert g2.wait(60) == 0
    stopped = {g2.pid}
    topology.start_worker("g2", GENERATION)

    submitter.join(600)
    assert not submitter.is_alive()
    db = topology.db()
    try:
        rows = _wait_all_terminal(db)
        _check_money(db, rows)
        _check_attempts(db, rows, killed=killed, stopped=stopped)
        interrupted = [a.outcome for a in _history(db, long_job)]
    finally:
        db.close()
    # Lost with its killed node, then completed; the node that took it over may itself have
    # been the one restarted gracefully, which hands it back once more.
    assert interrupted[0] == "LOST" and interrupted[-1] == "COMPLETED", interrupted
    assert set(interrupted[1:-1]) <= {"HANDED_BACK"}, interrupted
    known = {row.request_id for row in rows} | {row.alias for row in rows if row.alias}
    assert set(submitter.accepted) <= known
    _check_media(topology, rows)


def _submit_long_job(topology: Topology) -> str:
    body = {"prompt": "a long one", "image_size": "512x512", "num_inference_steps": 100}
    response = httpx.post(
        f"{topology.apis[1].url}/flux-dev/v1/dev/textToImage",
        headers={"Ocp-Apim-Subscription-Key": topology.keys[0]},
        json=body,
        timeout=30,
    )
    assert response.status_code == 202, response.text
    return str(response.json()["request_id"])


def _history(db: Database, request_id: str) -> list[Any]:
    with db.read() as conn:
        return list(
            conn.execute(
                select(job_attempts)
                .where(job_attempts.c.request_id == request_id)
                .order_by(job_attempts.c.started_at)
            ).all()
        )


def _postmaster_started(topology: Topology) -> Any:
    db = topology.db()
    try:
        with db.read() as conn:
            return conn.execute(text("SELECT pg_postmaster_start_time()")).scalar_one()
    finally:
        db.close()


def _check_money(db: Database, rows: list[Any]) -> None:
    with db.read() as conn:
        ledger = conn.execute(select(ledger_entries)).all()
        balances = conn.execute(select(wallets)).all()
    kinds: dict[str, Counter[str]] = {}
    for entry in ledger:
        if entry.request_id is not None:
            kinds.setdefault(entry.request_id, Counter())[entry.kind] += 1
    for row in rows:
        seen = kinds.get(row.request_id, Counter())
        if row.price_micros == 0:
            assert not seen, row.request_id
        elif row.state == "COMPLETED":
            assert seen == Counter(hold=1, capture=1), (row.request_id, seen)
        else:
            assert seen == Counter(hold=1, release=1), (row.request_id, seen)
    captured: Counter[str] = Counter()
    for entry in ledger:
        if entry.kind == "capture":
            captured[entry.key_id] += -entry.amount_micros
    for wallet in balances:
        assert wallet.held_micros == 0
        assert wallet.balance_micros == CREDIT_USD * 1_000_000 - captured[wallet.key_id]


def _check_attempts(db: Database, rows: list[Any], *, killed: set[int], stopped: set[int]) -> None:
    by_pid = _pids_nodes(db)
    dead = {node for pid in killed for node in by_pid.get(pid, [])}
    drained = {node for pid in stopped for node in by_pid.get(pid, [])}
    with db.read() as conn:
        attempts = conn.execute(select(job_attempts).order_by(job_attempts.c.started_at)).all()
    per_job: dict[str, list[Any]] = {}
    for attempt in attempts:
        per_job.setdefault(attempt.request_id, []).append(attempt)
    for row in rows:
        history = per_job.get(row.request_id, [])
        assert history, row.request_id
        *earlier, last = history
        assert last.outcome == row.state or last.outcome == "LOST", (row.request_id, history)
        for attempt in earlier:
            # A job runs again only after its node died or handed it back.
            assert (attempt.outcome, attempt.node_id in dead | drained) in {
                ("LOST", True),
                ("HANDED_BACK", True),
            }, (row.request_id, history)
        if row.state == "COMPLETED":
            assert [a.outcome for a in history].count("COMPLETED") == 1


def _check_media(topology: Topology, rows: list[Any]) -> None:
    api = topology.apis[1]
    owners = _owners(topology)
    with httpx.Client(timeout=30) as client:
        for row in rows:
            if row.state != "COMPLETED":
                continue
            status = client.get(
                f"{api.url}/v2/requests/status/{row.request_id}",
                headers={"Ocp-Apim-Subscription-Key": owners[row.key_id]},
            ).json()
            for url in status["output"]["media_url"]:
                assert client.get(url).status_code == 200, url


def _owners(topology: Topology) -> dict[str, str]:
    """Key id -> plain key, for the keys this test made."""
    db = topology.db()
    try:
        from fluxserve.billing.keys import KeyStore

        store = KeyStore(db)
        return {store.authenticate(plain).id: plain for plain in topology.keys}
    finally:
        db.close()
