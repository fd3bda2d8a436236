"""Generation while a node trains: sync FLUX.1 schnell `getData` latency on one `fluxserve
serve` (demo weights), first idle, then while a long LoRA training runs on the same node.

Trainings run in a lane of their own (their own engine process and lock), so generation does
not queue behind them; what is left is the competition for the same processors (or GPU).

    python bench/training_lane.py                  # 256x256, 2 steps, 20 requests per phase
"""

from __future__ import annotations

import argparse
import base64
import tempfile
import time
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

TRAINER_PATH = "/flux-2-pro-text-to-image-trainer-712/v1/flux-2-pro-text-to-image-trainer-request"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--training-steps", type=int, default=3000)
    add_run_options(parser)
    return parser.parse_args(argv)


def _config(path: Path, demo_cache: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        f'demo_weights_dir_override = "{demo_cache}"',
        "rate_limit_per_minute = 1000000",
        "[training]",
        "resolution = 64",
        "checkpoint_every = 1000",
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def _latencies(client: httpx.Client, args: argparse.Namespace, seed0: int) -> list[float]:
    body = {"prompt": "a red bicycle", "num_steps": args.steps, "width": args.size}
    body["height"] = args.size
    times = []
    for seed in range(seed0, seed0 + args.requests):
        started = time.perf_counter()
        response = client.post("/flux-1-schnell/v1/getData", json={**body, "seed": seed})
        times.append(time.perf_counter() - started)
        response.raise_for_status()
    return times


def _start_training(client: httpx.Client, steps: int) -> str:
    repo_on_path()
    from tests.support.media import dataset_zip

    data = base64.b64encode(dataset_zip(3)).decode()
    response = client.post(
        TRAINER_PATH,
        json={"image_data_url": f"data:application/zip;base64,{data}", "steps": steps},
    )
    response.raise_for_status()
    request_id = str(response.json()["request_id"])
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:  # timed only once the training really runs
        status = client.get(f"/v2/requests/status/{request_id}").json()
        if status.get("progress"):
            return request_id
        time.sleep(0.2)
    raise RuntimeError("the training never started")


def run(args: argparse.Namespace) -> dict[str, Any]:
    repo_on_path()
    from tests.support.servers import FluxServer, create_key

    work = args.work_dir or Path(tempfile.mkdtemp(prefix="fluxserve-bench-lane-"))
    config = _config(work / "server" / "config.toml", work / "demo-weights")
    key = create_key(work / "server", credit="100")
    server = FluxServer(work / "server", config=config).start(timeout_s=600)
    headers = {"Ocp-Apim-Subscription-Key": key}
    try:
        with httpx.Client(base_url=server.url, headers=headers, timeout=600) as client:
            _latencies(client, argparse.Namespace(**{**vars(args), "requests": 3}), 10_000)
            wait_for_idle(args.wait_idle)
            idle = _latencies(client, args, 0)
            training = _start_training(client, args.training_steps)
            busy = _latencies(client, args, 1_000)
            still = client.get(f"/v2/requests/status/{training}").json()["status"]
            # Measured: the training need not run on (nor the server drain it at its stop).
            client.post(f"/v2/requests/{training}/cancel").raise_for_status()
    finally:
        server.stop()
    return {
        "bench": "training_lane",
        "machine": machine(),
        "idle": summary(idle),
        "training": summary(busy),
        "training_still_running": still == "PROCESSING",
        "ratio_p50": summary(busy)["p50"] / summary(idle)["p50"],
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = run(args)
    print(machine_line(result["machine"]))
    rows = [
        ["idle", ms(result["idle"]["p50"]), ms(result["idle"]["p99"])],
        ["a training runs", ms(result["training"]["p50"]), ms(result["training"]["p99"])],
    ]
    print(markdown_table(["node", "getData p50 ms", "p99 ms"], rows))
    print(f"p50 ratio {result['ratio_p50']:.2f}x; training still running at the end: "
          f"{result['training_still_running']}")  # fmt: skip
    write_json(args.json_path, result)
    return 0


if __name__ == "__main__":
    main()
