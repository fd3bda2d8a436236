"""Gateway throughput: fluxserve's submit and status routes against a bare FastAPI route.

Starts, on this machine, two bare references (bench/gateway_bare.py: parse the body, insert one
SQLite row; read one row; once with the statement on the event loop, once off it, on FastAPI's
thread pool) and a real `fluxserve serve --no-workers` (per `--api-processes`
count; `--keys` clients, each with its own funded key and the default cap of active jobs, the
rate limit raised), then drives each with a load
generator (`--concurrency` connections for `--duration` seconds), interleaved, for `--rounds`
rounds; requests take turns among the clients (a status read reads its client's job).
Reports req/s, p50 and p99 per route, each server's share of either bare route's req/s and
its CPU per request. The load generator is `wrk` where it is installed (C, one
thread: it leaves the servers most of the machine) and otherwise an async httpx client, which
on a small machine takes a core of its own and caps every server near the same rate.

    python bench/gateway.py                                  # SQLite, 1 and 2 API processes
    python bench/gateway.py --database-url postgresql://postgres@127.0.0.1:5432/gw
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
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
    client: str
    keys: int


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measurement")
    parser.add_argument("--concurrency", type=int, default=32, help="open connections")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--api-processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--database-url", help="fluxserve's store (default: SQLite)")
    parser.add_argument(
        "--keys", type=int, default=512, help="clients, each with its own key (default cap)"
    )
    parser.add_argument(
        "--client",
        choices=("wrk", "httpx"),
        default="wrk" if shutil.which("wrk") else "httpx",
        help="load generator (default: wrk where installed)",
    )
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
        client=args.client,
        keys=args.keys,
    )


@dataclass
class Target:
    """One server under load: how to submit to it and how to read a status from it, as each
    of its clients (one key each; the bare route ignores keys)."""

    name: str
    base_url: str
    submit_path: str
    clients: list[dict[str, str]]  # each client's headers
    process: Any  # a FluxServer or a Popen
    pid: int
    status_paths: list[str] = field(default_factory=list)  # each client's job

    def status_of(self, submit_answer: dict[str, Any]) -> str:
        if "request_id" in submit_answer:
            return f"/v2/requests/status/{submit_answer['request_id']}"
        return f"/status/{submit_answer['id']}"


async def httpx_load(
    target: Target, op: str, concurrency: int, duration: float
) -> tuple[list[float], int, float]:
    """Latencies of the successful requests, the failures, and the seconds it ran."""
    latencies: list[float] = []
    failures = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=target.base_url, limits=limits, timeout=60) as client:
        started = time.perf_counter()
        stop_at = started + duration

        async def one_connection(connection: int) -> None:
            nonlocal failures
            turn = connection
            while time.perf_counter() < stop_at:
                index = turn % len(target.clients)
                turn += concurrency
                headers = target.clients[index]
                begin = time.perf_counter()
                if op == "submit":
                    response = await client.post(
                        target.submit_path, json=SUBMIT_BODY, headers=headers
                    )
                else:
                    response = await client.get(target.status_paths[index], headers=headers)
                if response.status_code in (200, 202):
                    latencies.append(time.perf_counter() - begin)
                else:
                    failures += 1

        await asyncio.gather(*(one_connection(i) for i in range(concurrency)))
        elapsed = time.perf_counter() - started
    return latencies, failures, elapsed


def httpx_run(target: Target, op: str, opts: Options) -> dict[str, Any]:
    latencies, failures, elapsed = asyncio.run(
        httpx_load(target, op, opts.concurrency, opts.duration)
    )
    stats = summary(latencies) if latencies else {"p50": 0.0, "p99": 0.0}
    return {"requests": len(latencies), "failures": failures, "seconds": elapsed,
            "p50": stats["p50"], "p99": stats["p99"]}  # fmt: skip


def _lua_string(text: str) -> str:
    return "[==[" + text + "]==]"


def wrk_script(target: Target, op: str, path: Path) -> Path:
    """A wrk script whose requests take turns among the target's clients (their key, and for
    status reads their job); only 200/202 answers count as answered."""
    lines = [f"wrk.method = {_lua_string('POST' if op == 'submit' else 'GET')}"]
    if op == "submit":
        lines.append(f"wrk.body = {_lua_string(json.dumps(SUBMIT_BODY))}")
        lines.append('wrk.headers["Content-Type"] = "application/json"')
    tables = {
        "keys": [next(iter(c.values()), "") for c in target.clients],
        "paths": target.status_paths if op == "status" else [target.submit_path],
    }
    for name, values in tables.items():
        lines.append(f"{name} = {{" + ", ".join(_lua_string(v) for v in values) + "}")
    header = next(iter(target.clients[0]), None)
    lines += [
        "turn = 0",
        "request = function()",
        "  turn = turn + 1",
        "  local i = (turn % #keys) + 1",
    ]
    if header is not None:
        lines.append(f"  wrk.headers[ {_lua_string(header)} ] = keys[i]")
    lines += ["  return wrk.format(nil, paths[((i - 1) % #paths) + 1])", "end"]
    path.write_text("\n".join(lines) + "\n")
    return path


SOCKET_ERRORS = r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)"
_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def _seconds(text: str) -> float:
    number, unit = _found(r"^([\d.]+)(us|ms|s|m)$", text)
    return float(number) * _UNITS[unit]


def _found(pattern: str, output: str) -> tuple[str, ...]:
    match = re.search(pattern, output, re.M)
    if match is None:
        raise RuntimeError(f"wrk printed no {pattern!r}:\n{output}")
    return match.groups()


def parse_wrk(output: str) -> dict[str, Any]:
    """Requests, failures (non-2xx answers and socket errors), seconds, p50 and p99."""
    total, seconds = _found(r"(\d+) requests in ([\d.]+\w+)", output)
    failures = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", output))
    if "Socket errors" in output:
        failures += sum(int(n) for n in _found(SOCKET_ERRORS, output))
    (p50,) = _found(r"^\s+50%\s+(\S+)", output)
    (p99,) = _found(r"^\s+99%\s+(\S+)", output)
    return {"requests": int(total) - failures, "failures": failures,
            "seconds": _seconds(seconds), "p50": _seconds(p50), "p99": _seconds(p99)}  # fmt: skip


def wrk_run(target: Target, op: str, opts: Options) -> dict[str, Any]:
    script = wrk_script(target, op, opts.work_dir / f"wrk-{op}.lua")
    path = target.submit_path if op == "submit" else target.status_paths[0]
    seconds = max(1, round(opts.duration))  # wrk takes whole seconds
    command = ["wrk", "-t1", f"-c{opts.concurrency}", f"-d{seconds}s", "--latency",
               "--timeout", "60s", "-s", str(script), f"{target.base_url}{path}"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return parse_wrk(done.stdout)


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


BARE = "bare FastAPI + SQLite"
BARE_OFF_LOOP = "bare FastAPI + SQLite, off the loop"


def start_bare(opts: Options, *, off_loop: bool = False) -> Target:
    repo_on_path()
    from tests.support.servers import free_port

    port = free_port()
    name = "bare-off-loop" if off_loop else "bare"
    log = (opts.work_dir / f"{name}.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, str(BENCH / "gateway_bare.py"), "--port", str(port),
         "--db", str(opts.work_dir / f"{name}.db"), *(["--off-loop"] if off_loop else [])],
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
    clients: list[dict[str, str]] = [{} for _ in range(opts.keys)]
    label = BARE_OFF_LOOP if off_loop else BARE
    return Target(label, url, "/submit", clients, process, process.pid)


def make_keys(data_dir: Path, config: Path, database_url: str | None, count: int) -> list[str]:
    """`count` funded keys, made through fluxserve's own key store (the CLI would start a
    process per key)."""
    repo_on_path()
    from fluxserve.billing.keys import KeyStore
    from fluxserve.db.database import Database
    from fluxserve.settings import load_settings

    overrides = {"data_dir": data_dir, "config_path": config}
    settings = load_settings(overrides | {"database_url_override": database_url})
    db = Database.open(settings.database_url)
    try:
        keys = KeyStore(db)
        return [keys.create(name=f"bench-{i}", credit_micros=10**12)[1] for i in range(count)]
    finally:
        db.close()


def start_fluxserve(opts: Options, processes: int) -> Target:
    repo_on_path()
    from tests.support.servers import FluxServer

    data_dir = opts.work_dir / f"fluxserve-{processes}"
    data_dir.mkdir(parents=True, exist_ok=True)
    config = data_dir / "config.toml"
    # Each client keeps the default cap of active jobs; only the rate limit is raised, since
    # a benchmark sends far more per key than a client may.
    config.write_text("rate_limit_per_minute = 100000000\n")
    keys = make_keys(data_dir, config, opts.database_url, opts.keys)
    args: tuple[str, ...] = ("--no-workers", "--api-processes", str(processes))
    if opts.database_url:
        args += ("--database-url", opts.database_url)
    server = FluxServer(data_dir, config=config, extra_args=args).start()
    clients = [{"Ocp-Apim-Subscription-Key": key} for key in keys]
    label = f"fluxserve, {processes} API process{'es' if processes > 1 else ''}"
    assert server.process is not None
    return Target(label, server.url, FLUX_DEV, clients, server, server.process.pid)


def prime(target: Target) -> None:
    """One submit per client, whose job that client's status reads then read."""
    with httpx.Client(base_url=target.base_url, timeout=60) as client:
        for headers in target.clients:
            response = client.post(target.submit_path, json=SUBMIT_BODY, headers=headers)
            response.raise_for_status()
            target.status_paths.append(target.status_of(response.json()))


def stop(target: Target) -> None:
    if isinstance(target.process, subprocess.Popen):
        target.process.terminate()
        target.process.wait(30)
    else:
        target.process.stop()


def measure(target: Target, op: str, opts: Options) -> dict[str, Any]:
    return wrk_run(target, op, opts) if opts.client == "wrk" else httpx_run(target, op, opts)


def run(opts: Options) -> dict[str, Any]:
    opts.work_dir.mkdir(parents=True, exist_ok=True)
    targets = [start_bare(opts), start_bare(opts, off_loop=True)]
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
                    sample = measure(target, op, opts)
                    sample |= {"round": round_index, "idle_pct": idle,
                               "server_cpu_s": tree_cpu_s(target.pid) - cpu_before}  # fmt: skip
                    samples[target.name][op].append(sample)
    finally:
        for target in targets:
            stop(target)
    return {"targets": [t.name for t in targets], "samples": samples}


def aggregate(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean req/s over the rounds; p50 and p99 are the median of the rounds' own."""
    answered = sum(run["requests"] for run in runs)
    rates = [run["requests"] / run["seconds"] for run in runs]
    cpu = sum(run["server_cpu_s"] for run in runs)
    return {
        "cpu_per_request": cpu / answered if answered else 0.0,
        "rps": sum(rates) / len(rates),
        "rps_range": [min(rates), max(rates)],
        "p50": statistics.median(run["p50"] for run in runs),
        "p99": statistics.median(run["p99"] for run in runs),
        "failures": sum(run["failures"] for run in runs),
    }


def report(opts: Options, results: dict[str, Any], info: dict[str, Any]) -> str:
    table = []
    for op in OPS:
        bare = aggregate(results["samples"][BARE][op])["rps"]
        off_loop = aggregate(results["samples"][BARE_OFF_LOOP][op])["rps"]
        for name in results["targets"]:
            numbers = aggregate(results["samples"][name][op])
            low, high = numbers["rps_range"]
            table.append(
                [op, name, f"{numbers['rps']:.0f} ({low:.0f}–{high:.0f})", ms(numbers["p50"]),
                 ms(numbers["p99"]), f"{numbers['p99'] / max(numbers['p50'], 1e-9):.1f}",
                 _share(numbers["rps"], bare), _share(numbers["rps"], off_loop),
                 ms(numbers["cpu_per_request"]), numbers["failures"]]
            )  # fmt: skip
    store = "PostgreSQL" if opts.database_url else "SQLite (WAL)"
    headers = ["route", "server", "req/s mean (range)", "p50 ms", "p99 ms", "p99/p50"]
    headers += ["of bare req/s", "of off-loop bare", "server CPU ms/req", "failed"]
    lines = [
        f"Gateway throughput, fluxserve store: {store}; {opts.client}, {opts.concurrency} "
        f"connections, {opts.duration:.0f} s per run, {opts.rounds} rounds interleaved",
        f"Machine: {machine_line(info)}",
        "",
        markdown_table(headers, table),
    ]
    return "\n".join(lines)


def _share(rps: float, reference: float) -> str:
    return f"{rps / reference:.0%}" if reference else "–"


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
