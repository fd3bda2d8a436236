"""Shared helpers for the benchmark scripts: statistics, markdown tables, JSON output, machine
facts, and settings that serve demo weights from one shared cache.

The scripts run as `python bench/<name>.py`, which puts this folder on `sys.path`."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def repo_on_path() -> None:
    """Make `tests.support` importable (the scripts reuse its real-server helpers)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation, like numpy's default."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summary(values: Sequence[float]) -> dict[str, float]:
    """p50, p99, mean, min and max of `values`, plus how many there were."""
    return {
        "n": float(len(values)),
        "p50": percentile(values, 50),
        "p99": percentile(values, 99),
        "mean": sum(values) / len(values),
        "min": min(values),
        "max": max(values),
    }


def timed(call: Callable[[], object]) -> float:
    """Seconds one call of `call` takes (monotonic, high resolution)."""
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    import torch

    load = os.getloadavg()
    return {
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average": [round(x, 2) for x in load],
    }


def machine_line(info: dict[str, Any]) -> str:
    device = info["cuda"] or "CPU"
    return (
        f"{info['cpus']} cores, {device}, torch {info['torch']} "
        f"({info['torch_threads']} threads), Python {info['python']}, "
        f"load average {info['load_average']}"
    )


def write_json(path: Path | None, payload: dict[str, Any]) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    print(f"\nwrote {path}")


def demo_settings(data_dir: Path, demo_cache: Path, **fields: Any) -> Any:
    """Settings serving demo weights from `demo_cache` (built once, shared by every run)."""
    from fluxserve.settings import Settings

    data_dir.mkdir(parents=True, exist_ok=True)
    return Settings(data_dir=data_dir, demo_weights_dir_override=demo_cache, **fields)


def _cpu_times() -> tuple[int, int]:
    with open("/proc/stat") as stat:
        fields = [int(x) for x in stat.readline().split()[1:]]
    return sum(fields), fields[3] + fields[4]  # total, idle + iowait


def wait_for_idle(min_idle_pct: float, max_wait_s: float = 300.0, window_s: float = 2.0) -> float:
    """On a shared machine, wait until the CPUs were at least `min_idle_pct` idle over a
    `window_s` window (or `max_wait_s` passed). Returns the idle share seen last; 100 where
    /proc/stat is missing (not Linux) or `min_idle_pct` is 0."""
    if min_idle_pct <= 0 or not Path("/proc/stat").exists():
        return 100.0
    deadline = time.monotonic() + max_wait_s
    while True:
        total1, idle1 = _cpu_times()
        time.sleep(window_s)
        total2, idle2 = _cpu_times()
        idle = 100.0 * (idle2 - idle1) / max(total2 - total1, 1)
        if idle >= min_idle_pct or time.monotonic() >= deadline:
            return idle


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """--wait-idle, --work-dir and --json, which every CPU benchmark takes."""
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="PCT",
        help="before each timed block, wait (up to 5 min) until the CPUs are PCT%% idle",
    )
    parser.add_argument("--work-dir", type=Path, help="data folders go here (default: a temp dir)")
    parser.add_argument("--json", type=Path, dest="json_path", help="also write results here")
