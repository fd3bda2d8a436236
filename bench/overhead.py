"""Per-request overhead of the full HTTP path for sync FLUX.1 schnell `getData`.

A real `fluxserve serve` (started through the CLI on 127.0.0.1, demo weights, a funded key)
answers sequential `getData` requests from one keep-alive httpx client. The same task runs bare
in this process (`LocalEngine.generate`, same demo weights, size, steps). Per-request overhead
is each HTTP latency minus the median bare call around it.

Modes: `isolate` (the default `engine.isolate = true`: the engine in a child process, images as
PNG over a pipe) and `inprocess` (`engine.isolate = false`). Bare calls are measured before the
first mode and after each one, so drift on a shared machine shows.

    python bench/overhead.py                       # 256x256, 2 steps, 50 requests, both modes
    python bench/overhead.py --image-checker none  # without the output safety check
"""

from __future__ import annotations

import argparse
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from benchlib import (
    add_run_options,
    demo_settings,
    machine,
    machine_line,
    markdown_table,
    ms,
    repo_on_path,
    summary,
    timed,
    wait_for_idle,
    write_json,
)

MODES = {"isolate": True, "inprocess": False}
PROMPT = "a red bicycle leaning on a brick wall"
ENGINE_MODEL = "flux1-schnell"


@dataclass(frozen=True)
class Options:
    size: int
    steps: int
    requests: int
    warmup: int
    modes: tuple[str, ...]
    image_checker: str
    wait_idle: float
    work_dir: Path
    json_path: Path | None


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=256, help="width = height (pixels)")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--requests", type=int, default=50, help="timed requests per mode")
    parser.add_argument("--warmup", type=int, default=5, help="untimed requests first")
    parser.add_argument(
        "--modes", nargs="+", choices=sorted(MODES), default=["isolate", "inprocess"]
    )
    parser.add_argument(
        "--image-checker",
        choices=["auto", "none", "opennsfw"],
        default="auto",
        help="[safety] image_checker of the served config (auto is the shipped default)",
    )
    add_run_options(parser)
    args = parser.parse_args(argv)
    work_dir = args.work_dir or Path(tempfile.mkdtemp(prefix="fluxserve-bench-overhead-"))
    return Options(
        size=args.size,
        steps=args.steps,
        requests=args.requests,
        warmup=args.warmup,
        modes=tuple(args.modes),
        image_checker=args.image_checker,
        wait_idle=args.wait_idle,
        work_dir=work_dir,
        json_path=args.json_path,
    )


def write_server_config(path: Path, demo_cache: Path, isolate: bool, image_checker: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "\n".join(
            [
                f'demo_weights_dir_override = "{demo_cache}"',
                "rate_limit_per_minute = 1000000",
                "[engine]",
                f"isolate = {'true' if isolate else 'false'}",
                "[safety]",
                f'image_checker = "{image_checker}"',
            ]
        )
        + "\n"
    )
    return path


class BareEngine:
    """The pipeline call without HTTP, jobs or pipes: `LocalEngine.generate` in this process."""

    def __init__(self, opts: Options, demo_cache: Path) -> None:
        from fluxserve.engine.inference.local_engine import LocalEngine

        self._opts = opts
        self._engine = LocalEngine(demo_settings(opts.work_dir / "bare", demo_cache))
        self._seed = 0

    def _task(self) -> Any:
        from fluxserve.engine.boundary.messages import GenerateTask

        self._seed += 1
        size = self._opts.size
        return GenerateTask(
            engine_model=ENGINE_MODEL,
            operation="text_to_image",
            prompt=PROMPT,
            width=size,
            height=size,
            steps=self._opts.steps,
            seeds=(self._seed,),
        )

    def warm(self, calls: int) -> None:
        for _ in range(calls):
            self._engine.generate(self._task())

    def measure(self, count: int) -> list[float]:
        wait_for_idle(self._opts.wait_idle)
        return [timed(lambda: self._engine.generate(self._task())) for _ in range(count)]

    def close(self) -> None:
        self._engine.close()


def prepare_server(opts: Options, mode: str, demo_cache: Path) -> tuple[Any, str]:
    """A `fluxserve serve` for `mode` (not started yet) and a funded key in its database."""
    repo_on_path()
    from tests.support.servers import FluxServer, create_key

    data_dir = opts.work_dir / f"server-{mode}"
    config = write_server_config(
        data_dir / "config.toml", demo_cache, MODES[mode], opts.image_checker
    )
    key = create_key(data_dir, credit="10", name="bench")
    return FluxServer(data_dir, config=config), key


def measure_http(opts: Options, server: Any, key: str) -> list[float]:
    """Latencies of sequential getData requests against a started server; stops it after."""
    headers = {"Content-Type": "application/json", "Ocp-Apim-Subscription-Key": key}
    try:
        with httpx.Client(base_url=server.url, headers=headers, timeout=300) as client:

            def one(seed: int) -> None:
                body = {
                    "prompt": PROMPT,
                    "num_steps": opts.steps,
                    "seed": seed,
                    "width": opts.size,
                    "height": opts.size,
                }
                response = client.post("/flux-1-schnell/v1/getData", json=body)
                if response.status_code != 200 or "output" not in response.json():
                    raise RuntimeError(f"getData failed: {response.status_code} {response.text}")

            for seed in range(opts.warmup):
                one(seed)
            wait_for_idle(opts.wait_idle)
            return [timed(partial(one, s)) for s in range(1000, 1000 + opts.requests)]
    finally:
        server.stop()


def run(opts: Options) -> dict[str, Any]:
    demo_cache = opts.work_dir / "demo-weights"
    bare_count = max(opts.requests // 2, 3)
    started: list[Any] = []
    bare: BareEngine | None = None

    def start(mode: str) -> tuple[Any, str]:
        server, key = prepare_server(opts, mode, demo_cache)
        started.append(server)
        server.start()
        return server, key

    http: dict[str, list[float]] = {}
    try:
        with ThreadPoolExecutor(max_workers=1) as starter:
            # The first server starts while this process builds the demo weights and warms up;
            # nothing is timed before both are done (and the server is idle).
            first = starter.submit(start, opts.modes[0])
            from fluxserve.engine.demo import ensure_demo_model

            ensure_demo_model(ENGINE_MODEL, demo_cache)
            bare = BareEngine(opts, demo_cache)
            bare.warm(opts.warmup)
            server, key = first.result()
        bare_blocks = [bare.measure(bare_count)]
        for index, mode in enumerate(opts.modes):
            if index > 0:
                server, key = start(mode)
            http[mode] = measure_http(opts, server, key)
            bare.warm(1)
            bare_blocks.append(bare.measure(bare_count))
    finally:
        for server in started:
            server.stop()
        if bare is not None:
            bare.close()
    results: dict[str, Any] = {"modes": {}}
    for index, mode in enumerate(opts.modes):
        around = bare_blocks[index] + bare_blocks[index + 1]
        bare_p50 = summary(around)["p50"]
        results["modes"][mode] = {
            "http": summary(http[mode]),
            "bare": summary(around),
            "overhead": summary([latency - bare_p50 for latency in http[mode]]),
            "http_samples": http[mode],
            "bare_samples": around,
        }
    results["bare_blocks_p50"] = [summary(block)["p50"] for block in bare_blocks]
    return results


def report(opts: Options, results: dict[str, Any], info: dict[str, Any]) -> str:
    rows = []
    for mode, numbers in results["modes"].items():
        http, bare, overhead = numbers["http"], numbers["bare"], numbers["overhead"]
        rows.append(
            [
                f"{mode} (isolate={str(MODES[mode]).lower()})",
                ms(http["p50"]),
                ms(http["p99"]),
                ms(bare["p50"]),
                ms(bare["p99"]),
                f"**{ms(overhead['p50'])}**",
                ms(overhead["p99"]),
            ]
        )
    headers = [
        "mode",
        "HTTP p50 ms",
        "HTTP p99 ms",
        "bare p50 ms",
        "bare p99 ms",
        "overhead p50 ms",
        "overhead p99 ms",
    ]
    drift = ", ".join(ms(x) for x in results["bare_blocks_p50"])
    return "\n".join(
        [
            f"## getData overhead: {opts.size}x{opts.size}, {opts.steps} steps, "
            f"{opts.requests} requests/mode, image_checker={opts.image_checker}",
            f"machine: {machine_line(info)}",
            "",
            markdown_table(headers, rows),
            "",
            f"bare-call p50 per block (before the first mode, then after each): {drift} ms",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    before = machine()
    results = run(opts)
    info = machine()
    info["load_average_before"] = before["load_average"]
    print(report(opts, results, info))
    write_json(
        opts.json_path,
        {"bench": "overhead", "options": vars(opts), "machine": info, "results": results},
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
