"""Gateway throughput: fluxserve's submit and status routes against a bare FastAPI route.

Starts, on this machine, the bare reference (bench/gateway_bare.py: parse the body, insert one
SQLite row; read one row) and a real `fluxserve serve --no-workers` (per `--api-processes`
count, a funded key, rate and active-job limits raised), then drives each with an async httpx
load generator (`--concurrency` connections for `--duration` seconds), interleaved, for
`--rounds` rounds. Reports req/s, p50 and p99 per route, and fluxserve's share of the bare
route's req/s.

    python bench/gateway.py                                  # SQLite, 1 and 2 API processes
    python bench/gateway.py --database-url postgresql://postgres@127.0.0.1:5432/gw
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from benchlib import (
    add_run_options,
    machine,
    machine_line,
    markdown_table,
    ms,
    repo_on_path,
    summary,
    wait_for_idle,
    write_json,
)

BENCH = Path(__file__).resolve().parent
SUBMIT_BODY = {"prompt": "a red bicycle leaning on a brick wall", "num_inference_steps": 1}
FLUX_DEV = "/flux-dev/v1/dev/textToImage"
OPS = ("submit", "status")


@dataclass(frozen=True)
class Options:
    duration: float
    concurrency: int
    rounds: int
    api_processes: tuple[int, ...]
    database_url: str | None
    wait_idle: float
    work_dir: Path
    json_path: Path | None


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--concurrency", type=int, default=32, help="open connections")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--api-processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--database-url", help="fluxserve's store (default: SQLite)")
    add_run_options(parser)
    args = parser.parse_args(argv)
    work_dir = args.work_dir or Path(tempfile.mkdtemp(prefix="fluxserve-bench-gateway-"))
    return Options(
        duration=args.duration,
        concurrency=args.concurrency,
        rounds=args.rounds,
        api_processes=tuple(args.api_processes),
        database_url=args.database_url,
        wait_idle=args.wait_idle,
        work_dir=work_dir,
        json_path=args.json_path,
    )


@dataclass
class Target:
    """One server under load: how to submit to it and how to read a status from it."""

    name: str
    base_url: str
    submit_path: str
    headers: dict[str, str]
    process: Any  # a FluxServer or a Popen
    pid: int
    status_path: str = ""

    def status_of(self, submit_answer: dict[str, Any]) -> str:
        if "request_id" in submit_answer:
            return f"/v2/requests/status/{submit_answer['request_id']}"
        return f"/status/{submit_answer['id']}"


async def load(
    target: Target, op: str, concurrency: int, duration: float
) -> tuple[list[float], int, float]:
    """Latencies of the successful requests, the failures, and the seconds it ran."""
    latencies: list[float] = []
    failures = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=target.base_url, limits=limits, timeout=60) as client:
        started = time.perf_counter()
        stop_at = started + duration

        async def one_connection() -> None:
            nonlocal failures
            while time.perf_counter() < stop_at:
                begin = time.perf_counter()
                if op == "submit":
                    response = await client.post(
                        target.submit_path, json=SUBMIT_BODY, headers=target.headers
                    )
                else:
                    response = await client.get(target.status_path, headers=target.headers)
                if response.status_code in (200, 202):
                    latencies.append(time.perf_counter() - begin)
                else:
                    failures += 1

        await asyncio.gather(*(one_connection() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return latencies, failures, elapsed


def tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) that `pid` and its living descendants have used: a server's
    cost per request that a loaded machine distorts far less than its latency."""
    total = 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total += tree_cpu_s(int(child))
    except (OSError, IndexError):
        pass  # gone meanwhile, or not Linux
    return total


def start_bare(opts: Options) -> Target:
    repo_on_path()
    from tests.support.servers import free_port

    port = free_port()
    log = (opts.work_dir / "bare.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, str(BENCH / "gateway_bare.py"), "--port", str(port),
         "--db", str(opts.work_dir / "bare.db")],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{url}/status/none", timeout=2)
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the bare reference app did not start") from None
            time.sleep(0.2)
    return Target("bare FastAPI + SQLite", url, "/submit", {}, process, process.pid)


def start_fluxserve(opts: Options, processes: int) -> Target:
    repo_on_path()
    from tests.support.servers import FluxServer, run_cli

    data_dir = opts.work_dir / f"fluxserve-{processes}"
    data_dir.mkdir(parents=True, exist_ok=True)
    config = data_dir / "config.toml"
    config.write_text(
        "rate_limit_per_minute = 100000000\n[limits]\nmax_active_jobs_per_key = 100000000\n"
    )
    env = {"FLUXSERVE_DATABASE_URL": opts.database_url} if opts.database_url else {}
    out = run_cli(
        "keys", "create", "--name", "bench", "--credit", "100000000",
        data_dir=data_dir, env=env,
    )  # fmt: skip
    key = out.strip().splitlines()[-1]
    args: tuple[str, ...] = ("--no-workers", "--api-processes", str(processes))
    if opts.database_url:
        args += ("--database-url", opts.database_url)
    server = FluxServer(data_dir, config=config, extra_args=args).start()
    headers = {"Ocp-Apim-Subscription-Key": key}
    label = f"fluxserve, {processes} API process{'es' if processes > 1 else ''}"
    assert server.process is not None
    return Target(label, server.url, FLUX_DEV, headers, server, server.process.pid)


def prime(target: Target) -> None:
    """One submit, whose job the status reads then read (and the key's cache entry)."""
    response = httpx.post(
        f"{target.base_url}{target.submit_path}", json=SUBMIT_BODY, headers=target.headers
    )
    response.raise_for_status()
    target.status_path = target.status_of(response.json())


def stop(target: Target) -> None:
    if isinstance(target.process, subprocess.Popen):
        target.process.terminate()
        target.process.wait(30)
    else:
        target.process.stop()


def run(opts: Options) -> dict[str, Any]:
    opts.work_dir.mkdir(parents=True, exist_ok=True)
    targets = [start_bare(opts)]
    try:
        targets += [start_fluxserve(opts, n) for n in opts.api_processes]
        for target in targets:
            prime(target)
        samples: dict[str, dict[str, list[dict[str, Any]]]] = {
            t.name: {op: [] for op in OPS} for t in targets
        }
        for round_index in range(opts.rounds):
            for op in OPS:
                for target in targets:
                    idle = wait_for_idle(opts.wait_idle)
                    cpu_before = tree_cpu_s(target.pid)
                    latencies, failures, elapsed = asyncio.run(
                        load(target, op, opts.concurrency, opts.duration)
                    )
                    samples[target.name][op].append(
                        {"round": round_index, "latencies": latencies, "failures": failures,
                         "seconds": elapsed, "idle_pct": idle,
                         "server_cpu_s": tree_cpu_s(target.pid) - cpu_before}
                    )  # fmt: skip
    finally:
        for target in targets:
            stop(target)
    return {"targets": [t.name for t in targets], "samples": samples}


def aggregate(runs: list[dict[str, Any]]) -> dict[str, Any]:
    latencies = [x for run in runs for x in run["latencies"]]
    rates = [len(run["latencies"]) / run["seconds"] for run in runs]
    stats = summary(latencies) if latencies else {"p50": 0.0, "p99": 0.0}
    cpu = sum(run["server_cpu_s"] for run in runs)
    return {
        "cpu_per_request": cpu / len(latencies) if latencies else 0.0,
        "rps": sum(rates) / len(rates),
        "rps_range": [min(rates), max(rates)],
        "p50": stats["p50"],
        "p99": stats["p99"],
        "failures": sum(run["failures"] for run in runs),
    }


def report(opts: Options, results: dict[str, Any], info: dict[str, Any]) -> str:
    bare_name = results["targets"][0]
    table = []
    for op in OPS:
        bare = aggregate(results["samples"][bare_name][op])
        for name in results["targets"]:
            numbers = aggregate(results["samples"][name][op])
            share = numbers["rps"] / bare["rps"] if bare["rps"] else 0.0
            low, high = numbers["rps_range"]
            table.append(
                [op, name, f"{numbers['rps']:.0f} ({low:.0f}–{high:.0f})", ms(numbers["p50"]),
                 ms(numbers["p99"]), f"{numbers['p99'] / max(numbers['p50'], 1e-9):.1f}",
                 f"{share:.0%}", ms(numbers["cpu_per_request"]), numbers["failures"]]
            )  # fmt: skip
    store = "PostgreSQL" if opts.database_url else "SQLite (WAL)"
    headers = ["route", "server", "req/s mean (range)", "p50 ms", "p99 ms", "p99/p50"]
    headers += ["of bare req/s", "server CPU ms/req", "failed"]
    lines = [
        f"Gateway throughput, fluxserve store: {store}; {opts.concurrency} connections, "
        f"{opts.duration:.0f} s per run, {opts.rounds} rounds interleaved",
        f"Machine: {machine_line(info)}",
        "",
        markdown_table(headers, table),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    results = run(opts)
    info = machine()
    text = report(opts, results, info)
    print(text)
    summaries = {
        name: {op: aggregate(results["samples"][name][op]) for op in OPS}
        for name in results["targets"]
    }
    payload = {
        "bench": "gateway",
        "machine": info,
        "options": {k: str(v) for k, v in vars(opts).items()},
        "results": {"targets": results["targets"], "summary": summaries},
        "pid": os.getpid(),
    }
    write_json(opts.json_path, payload)
    return 0


if __name__ == "__main__":
    sys.exit(main())
