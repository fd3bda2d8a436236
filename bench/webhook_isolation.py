"""How late a healthy webhook arrives while other receivers hang: N finished jobs whose webhooks
point at loopback sockets that never answer, then one whose receiver answers at once (the
newest row, so the worst case for any oldest-first scheme). The deliverer runs with its
default pool and per-host limit on a real SQLite store.

    python bench/webhook_isolation.py                   # 60 hanging, 10 s receiver timeout
    python bench/webhook_isolation.py --hanging 200 --hosts 200
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import tempfile
import threading
import time
import uuid
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from benchlib import machine, machine_line, markdown_table, ms, repo_on_path, write_json

repo_on_path()

from fluxserve.billing.keys import KeyStore  # noqa: E402
from fluxserve.db.database import Database  # noqa: E402
from fluxserve.jobs.outbox import Outbox  # noqa: E402
from fluxserve.jobs.store import JobStore  # noqa: E402
from fluxserve.webhooks.deliverer import WebhookDeliverer, WebhookPolicy  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hanging", type=int, default=60, help="hanging deliveries")
    parser.add_argument("--hosts", type=int, default=60, help="hanging receivers they spread on")
    parser.add_argument("--timeout", type=float, default=10.0, help="receiver timeout, s")
    parser.add_argument("--work-dir", type=Path, help="folder for the SQLite file")
    parser.add_argument("--json", type=Path, dest="json_path", help="also write results here")
    return parser.parse_args(argv)


class _Healthy(BaseHTTPRequestHandler):
    arrived = threading.Event()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
        self.arrived.set()

    def log_message(self, format: str, *args: Any) -> None:
        return


def _job(jobs: JobStore, key_id: str, url: str) -> None:
    request_id = f"flux-dev_{uuid.uuid4()}"
    jobs.create(
        request_id=request_id, model_id="flux-dev", key_id=key_id, spec={}, price_micros=0,
        webhook_url=url,
    )  # fmt: skip
    [claimed] = jobs.claim("bench", "bench", 60.0)
    jobs.complete(claimed, output_keys=["outputs/a.png"], media_type="image/png")


def measure(args: argparse.Namespace, work_dir: Path) -> dict[str, Any]:
    db = Database.open(f"sqlite:///{work_dir / 'webhooks.db'}")
    hanging = []
    for _ in range(args.hosts):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        sock.listen(max(args.hanging, 16))
        hanging.append(sock)
    healthy = ThreadingHTTPServer(("127.0.0.1", 0), _Healthy)
    threading.Thread(target=healthy.serve_forever, daemon=True).start()
    _Healthy.arrived.clear()
    try:
        key, _ = KeyStore(db).create(name="bench", credit_micros=0)
        jobs = JobStore(db)
        for index in range(args.hanging):
            port = hanging[index % args.hosts].getsockname()[1]
            _job(jobs, key.id, f"http://127.0.0.1:{port}/stuck")
        _job(jobs, key.id, f"http://127.0.0.1:{healthy.server_address[1]}/healthy")
        policy = replace(WebhookPolicy(allow_private=True), timeout_s=args.timeout)
        latency = asyncio.run(_run(Outbox(db), jobs, policy))
    finally:
        healthy.shutdown()
        for sock in hanging:
            sock.close()
        db.close()
    return {"healthy_latency_s": latency, "policy": policy.__dict__ | {"secret": None}}


async def _run(outbox: Outbox, jobs: JobStore, policy: WebhookPolicy) -> float | None:
    stop = asyncio.Event()
    media = "http://bench/media/{}".format
    async with WebhookDeliverer(outbox, jobs, media, policy) as deliverer:
        started = time.monotonic()
        task = asyncio.create_task(deliverer.run(stop, poll_s=0.2))
        arrived = await asyncio.to_thread(_Healthy.arrived.wait, policy.timeout_s * 4)
        latency = time.monotonic() - started if arrived else None
        stop.set()
        await task
    return latency


def _ms_or_never(latency: float | None) -> str:
    return "never" if latency is None else f"{ms(latency)} ms"


def _ms_or_never(latency: float | None) -> str:
    return "never" if latency is None else f"{ms(latency)} ms"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    info = machine()
    if args.work_dir is not None:
        args.work_dir.mkdir(parents=True, exist_ok=True)
        result = measure(args, args.work_dir)
    else:
        with tempfile.TemporaryDirectory() as folder:
            result = measure(args, Path(folder))
    latency = result["healthy_latency_s"]
    print(machine_line(info))
    print(
        markdown_table(
            ["hanging deliveries", "hanging hosts", "receiver timeout", "healthy webhook after"],
            [[args.hanging, args.hosts, f"{args.timeout:g} s", _ms_or_never(latency)]],
        )
    )
    write_json(
        args.json_path,
        {"bench": "webhook_isolation", "machine": info, "args": vars(args), "results": result},
    )
    return 0 if latency is not None else 1


if __name__ == "__main__":
    raise SystemExit(main())
