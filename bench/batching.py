"""Images per second with `engine.max_batch` 1 vs 4, on the demo FLUX.1 schnell weights.

Two in-process engines serve the same demo weights, one with max_batch = 1 and one with
max_batch = 4 (the default). Each gets the same 4 compatible tasks (same size and steps,
different prompts and seeds) through `LocalEngine.generate_many`: the first runs them as four
pipeline calls, the second as one batched call. Rounds alternate between the two engines, so
drift on a shared machine hits both alike; the table gives the median round and the best.

    python bench/batching.py                        # 256, 512, 1024; 4 steps; 5 rounds each
    python bench/batching.py --sizes 512 --rounds 9
"""

from __future__ import annotations

import argparse
import tempfile
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from benchlib import (
    add_run_options,
    demo_settings,
    machine,
    machine_line,
    markdown_table,
    summary,
    timed,
    wait_for_idle,
    write_json,
)

ENGINE_MODEL = "flux1-schnell"
PROMPTS = (
    "a red bicycle leaning on a brick wall",
    "a lighthouse on a cliff at dusk",
    "a bowl of ramen, studio photo",
    "an astronaut riding a horse on the moon",
    "a watercolor map of an island",
    "a close-up of a honeybee on lavender",
    "a snowy mountain village at night",
    "a vintage typewriter on a desk",
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 1024])
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--batch", type=int, default=4, help="max_batch of the batched engine")
    parser.add_argument("--tasks", type=int, default=4, help="compatible tasks per round")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per size and engine")
    add_run_options(parser)
    return parser.parse_args(argv)


def make_tasks(count: int, size: int, steps: int, round_number: int) -> list[Any]:
    from fluxserve.engine.boundary.messages import GenerateTask

    return [
        GenerateTask(
            engine_model=ENGINE_MODEL,
            operation="text_to_image",
            prompt=PROMPTS[i % len(PROMPTS)],
            width=size,
            height=size,
            steps=steps,
            seeds=(round_number * 100 + i,),
        )
        for i in range(count)
    ]


def max_difference(a: list[list[Any]], b: list[list[Any]]) -> float:
    """Largest pixel difference between the same images made alone and batched."""
    return max(
        float(np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64)).max())
        for row_a, row_b in zip(a, b, strict=True)
        for x, y in zip(row_a, row_b, strict=True)
    )


def run(args: argparse.Namespace) -> dict[str, Any]:
    from fluxserve.engine.inference.local_engine import LocalEngine
    from fluxserve.settings import EngineConfig

    work_dir = args.work_dir or Path(tempfile.mkdtemp(prefix="fluxserve-bench-batching-"))
    demo_cache = work_dir / "demo-weights"
    engines = {
        batch: LocalEngine(
            demo_settings(
                work_dir / f"data-{batch}", demo_cache, engine=EngineConfig(max_batch=batch)
            )
        )
        for batch in (1, args.batch)
    }
    results: dict[str, Any] = {"sizes": {}}
    try:
        for size in args.sizes:
            warm = make_tasks(args.tasks, size, args.steps, 0)
            outputs = {batch: engine.generate_many(warm) for batch, engine in engines.items()}
            times: dict[int, list[float]] = {batch: [] for batch in engines}
            for round_number in range(1, args.rounds + 1):
                tasks = make_tasks(args.tasks, size, args.steps, round_number)
                wait_for_idle(args.wait_idle)
                for batch, engine in engines.items():
                    times[batch].append(timed(partial(engine.generate_many, tasks)))
            results["sizes"][size] = {
                "times": {str(b): t for b, t in times.items()},
                "max_pixel_diff": max_difference(outputs[1], outputs[args.batch]),
            }
    finally:
        for engine in engines.values():
            engine.close()
    return results


def report(args: argparse.Namespace, results: dict[str, Any], info: dict[str, Any]) -> str:
    rows = []
    for size, numbers in results["sizes"].items():
        one, many = numbers["times"]["1"], numbers["times"][str(args.batch)]
        rate = {
            name: (args.tasks / summary(t)["p50"], args.tasks / min(t))
            for name, t in (("one", one), ("many", many))
        }
        rows.append(
            [
                f"{size}x{size}",
                f"{rate['one'][0]:.2f} ({rate['one'][1]:.2f})",
                f"{rate['many'][0]:.2f} ({rate['many'][1]:.2f})",
                f"{rate['many'][0] / rate['one'][0]:.2f}x",
                f"{numbers['max_pixel_diff']:.0f}",
            ]
        )
    headers = [
        "size",
        "max_batch=1 img/s median (best)",
        f"max_batch={args.batch} img/s median (best)",
        "batched / one-by-one",
        "max |Δpixel| batched vs alone",
    ]
    return "\n".join(
        [
            f"## batching on demo {ENGINE_MODEL}: {args.tasks} tasks per round, "
            f"{args.steps} steps, {args.rounds} rounds per size",
            f"machine: {machine_line(info)}",
            "",
            markdown_table(headers, rows),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = run(args)
    info = machine()
    print(report(args, results, info))
    write_json(
        args.json_path,
        {"bench": "batching", "options": vars(args), "machine": info, "results": results},
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
