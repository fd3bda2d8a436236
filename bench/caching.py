"""What each `acceleration` level saves on the tiny FLUX.1-dev demo pipeline over 28 steps.

For none / regular / high (the served levels, `CACHE_CONFIGS` in engine/acceleration.py) it
counts the transformer blocks actually computed and times the call. Blocks are counted with a
forward hook on each block's *first inner layer*: First Block Cache wraps the block itself, so a
hook on the block would fire even when the cache skips its body.

With random tiny weights the residual of the first block changes a lot from step to step, so the
served thresholds may skip nothing. Runs with `--demo-threshold` values (labelled "bench
override", never served) swap a much higher First Block Cache threshold into the `high` level
through the same engine path, to show the mechanism itself works.

    python bench/caching.py                        # 256x256, 28 steps, 3 timed calls per row
    python bench/caching.py --demo-threshold 0.2 1e9   # default override rows: 0.2 and 0.5
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any
from unittest import mock

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

ENGINE_MODEL = "flux1-dev"
if TYPE_CHECKING:
    from fluxserve.vocabulary import Acceleration

LEVELS: tuple[Acceleration, ...] = ("none", "regular", "high")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=256, help="width = height (pixels)")
    parser.add_argument("--steps", type=int, default=28)
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per row")
    parser.add_argument(
        "--demo-threshold",
        type=float,
        nargs="*",
        default=[0.2, 0.5],
        help="First Block Cache thresholds for the labelled bench-override rows",
    )
    add_run_options(parser)
    return parser.parse_args(argv)


class BlockCounter:
    """Counts block bodies that ran: one hook on the first inner layer of every block."""

    def __init__(self, transformer: Any) -> None:
        self.blocks = [*transformer.transformer_blocks, *transformer.single_transformer_blocks]
        self.calls = 0
        self._handles = [
            next(iter(block.children())).register_forward_hook(self._count) for block in self.blocks
        ]

    def _count(self, *_: object) -> None:
        self.calls += 1

    def close(self) -> None:
        for handle in self._handles:
            handle.remove()


def _pixels(image: Any) -> np.ndarray[Any, Any]:
    return np.asarray(image, dtype=np.float64)


@dataclasses.dataclass
class Row:
    """One configuration: its label, task, and the context that sets its cache up."""

    label: str
    task: Any
    context: Callable[[], AbstractContextManager[Any]]
    computed: int = 0
    times: list[float] = dataclasses.field(default_factory=list)
    image: Any = None

    def call(self, engine: Any) -> Any:
        with self.context():
            return engine.generate(self.task)[0]


def measure(engine: Any, counter: BlockCounter, rows: list[Row], args: argparse.Namespace) -> None:
    """Blocks computed per row (one call each), then timed calls, round-robin over the rows so
    that drift on a shared machine touches every row alike."""
    for row in rows:
        counter.calls = 0
        row.image = row.call(engine)
        row.computed = counter.calls
    for _ in range(args.repeats):
        wait_for_idle(args.wait_idle)
        for row in rows:
            row.times.append(timed(partial(row.call, engine)))


def high_threshold_override(threshold: float) -> Any:
    """Serve `threshold` as the `high` level of FLUX.1 transformers, for this bench only."""
    from fluxserve.engine.inference import acceleration

    return mock.patch.dict(
        acceleration.CACHE_CONFIGS,
        {("FluxTransformer2DModel", "high"): acceleration._first_block(threshold)},
    )


def run(args: argparse.Namespace) -> dict[str, Any]:
    from fluxserve.engine.boundary.messages import GenerateTask
    from fluxserve.engine.inference import acceleration
    from fluxserve.engine.inference.local_engine import LocalEngine

    work_dir = args.work_dir or Path(tempfile.mkdtemp(prefix="fluxserve-bench-caching-"))
    engine = LocalEngine(demo_settings(work_dir / "data", work_dir / "demo-weights"))
    transformer = engine.loaded_model(ENGINE_MODEL).pipe.transformer
    counter = BlockCounter(transformer)
    base = GenerateTask(
        engine_model=ENGINE_MODEL,
        operation="text_to_image",
        prompt="a lighthouse on a cliff at dusk",
        width=args.size,
        height=args.size,
        steps=args.steps,
        seeds=(7,),
        guidance=3.5,
    )
    rows = []
    for level in LEVELS:
        config = acceleration.CACHE_CONFIGS.get(("FluxTransformer2DModel", level))
        task = dataclasses.replace(base, acceleration=level)
        rows.append(Row(f"{level} ({_describe(config)})", task, nullcontext))
    for threshold in args.demo_threshold:
        label = f"BENCH OVERRIDE: FirstBlockCache(threshold={threshold:g})"
        task = dataclasses.replace(base, acceleration="high")
        rows.append(Row(label, task, partial(high_threshold_override, threshold)))
    try:
        engine.generate(dataclasses.replace(base, steps=2))  # warm-up
        measure(engine, counter, rows, args)
    finally:
        counter.close()
        engine.close()
    reference = _pixels(rows[0].image)
    return {
        "blocks_per_step": len(counter.blocks),
        "rows": [
            {
                "label": row.label,
                "computed": row.computed,
                "times": row.times,
                "max_pixel_diff": float(np.abs(_pixels(row.image) - reference).max()),
            }
            for row in rows
        ],
    }


def _describe(config: Any) -> str:
    if config is None:
        return "no cache"
    made = config()
    return f"{type(made).__name__}(threshold={made.threshold:g})"


def report(args: argparse.Namespace, results: dict[str, Any], info: dict[str, Any]) -> str:
    blocks = results["blocks_per_step"]
    full = blocks * args.steps
    base_p50 = summary(results["rows"][0]["times"])["p50"]
    table = [
        [
            row["label"],
            f"{row['computed']} / {full}",
            f"{row['computed'] / full:.0%}",
            f"{(full - row['computed']) // max(blocks - 1, 1)} / {args.steps}",
            f"{summary(row['times'])['p50'] * 1000:.0f}",
            f"{base_p50 / summary(row['times'])['p50']:.2f}x",
            f"{row['max_pixel_diff']:.0f}",
        ]
        for row in results["rows"]
    ]
    headers = [
        "acceleration",
        "blocks computed",
        "share",
        "steps served from cache",
        "wall p50 ms",
        "speed-up",
        "max |Δpixel| vs none",
    ]
    return "\n".join(
        [
            f"## acceleration on tiny {ENGINE_MODEL}: {args.size}x{args.size}, {args.steps} steps, "
            f"{results['blocks_per_step']} blocks/step, {args.repeats} timed calls/row",
            f"machine: {machine_line(info)}",
            "",
            markdown_table(headers, table),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    results = run(args)
    info = machine()
    print(report(args, results, info))
    write_json(
        args.json_path,
        {"bench": "caching", "options": vars(args), "machine": info, "results": results},
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
