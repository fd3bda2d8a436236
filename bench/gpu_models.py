"""Seconds per image for every catalog engine model on real weights, on a CUDA GPU.

Reads the same TOML the server uses (`--config`, or FLUXSERVE_CONFIG) and runs each engine
model that has `weights` configured at 1024x1024 (by default) with acceleration none / regular /
high and `engine.compile_repeated_blocks` off / on. Each (model, compile) pair gets a fresh
in-process `LocalEngine` (so one model's memory is gone before the next loads); the first call
of each row is timed apart, since it includes loading and, with compile on, compilation.

Without CUDA it says so and exits with status 2. `--include-demo` also runs models that serve
demo weights (tiny random pipelines): useful to check this script on a GPU without weights.

`--random-full-size --out DIR` needs no weights at all: it builds the real architectures with
random weights and measures every stage and acceleration (see `random_full_size.py`, or
`scripts/gpu-check.sh`); `--tiny` runs that same plan with tiny models on a CPU.

    FLUXSERVE_CONFIG=/etc/fluxserve.toml python bench/gpu_models.py --json gpu.json
    python bench/gpu_models.py --config fluxserve.toml --models flux1-dev --compile off
    python bench/gpu_models.py --random-full-size --out gpu-check/
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from benchlib import machine, machine_line, markdown_table, summary, timed, write_json

ACCELERATIONS = ("none", "regular", "high")
EXIT_NO_CUDA = 2
EXIT_NOTHING_TO_RUN = 3


@dataclass(frozen=True)
class ModelRun:
    """How one engine model is called: its operation, default steps and guidance."""

    operation: str
    steps: int
    guidance: float | None
    needs_image: bool = False
    needs_mask: bool = False


# The API's defaults for the routes each engine model backs.
MODEL_RUNS: dict[str, ModelRun] = {
    "flux1-schnell": ModelRun("text_to_image", 4, None),
    "flux1-dev": ModelRun("text_to_image", 28, 3.5),
    "flux1-fill-dev": ModelRun("fill", 28, 30.0, needs_image=True, needs_mask=True),
    "flux1-kontext-dev": ModelRun("restore", 28, 2.5, needs_image=True),
    "flux2-dev": ModelRun("text_to_image", 28, 4.0),
    "flux2-klein-4b": ModelRun("text_to_image", 25, 1.0),
    "flux2-klein-base-4b": ModelRun("text_to_image", 28, 4.0),
}
PROMPT = "a lighthouse on a cliff at dusk, photo, detailed"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, help="server TOML (default: FLUXSERVE_CONFIG)")
    parser.add_argument("--models", nargs="+", choices=sorted(MODEL_RUNS), help="default: all")
    parser.add_argument("--size", type=int, default=1024, help="width = height (pixels)")
    parser.add_argument("--steps", type=int, help="override every model's default steps")
    parser.add_argument("--accelerations", nargs="+", choices=ACCELERATIONS, default=ACCELERATIONS)
    parser.add_argument("--compile", nargs="+", choices=["off", "on"], default=["off", "on"])
    parser.add_argument("--repeats", type=int, default=3, help="timed calls after the first")
    parser.add_argument("--include-demo", action="store_true", help="also run demo-weight models")
    parser.add_argument(
        "--allow-cpu",
        action="store_true",
        help="run without CUDA (to test this script; the timings mean nothing)",
    )
    parser.add_argument("--data-dir", type=Path, help="data folder (default: a temp dir)")
    parser.add_argument("--json", type=Path, dest="json_path", help="also write results here")
    return parser.parse_args(argv)


def input_png(size: int, mask: bool = False) -> bytes:
    """A smooth synthetic input (or a centre-square mask) for fill and Kontext."""
    import numpy as np
    from PIL import Image

    ys, xs = np.mgrid[0:size, 0:size] / max(size - 1, 1)
    if mask:
        inside = (abs(xs - 0.5) < 0.25) & (abs(ys - 0.5) < 0.25)
        image = Image.fromarray((inside * 255).astype(np.uint8), "L")
    else:
        rgb = np.stack([xs, ys, 1 - xs * ys], axis=-1) * 255
        image = Image.fromarray(rgb.astype(np.uint8), "RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def make_task(engine_model: str, size: int, steps: int | None, acceleration: str) -> Any:
    from fluxserve.engine.boundary.messages import GenerateTask

    run = MODEL_RUNS[engine_model]
    return GenerateTask(
        engine_model=engine_model,
        operation=run.operation,  # type: ignore[arg-type]
        prompt=PROMPT,
        width=size,
        height=size,
        steps=steps or run.steps,
        seeds=(42,),
        guidance=run.guidance,
        image=input_png(size) if run.needs_image else None,
        mask=input_png(size, mask=True) if run.needs_mask else None,
        acceleration=acceleration,  # type: ignore[arg-type]
    )


def load(args: argparse.Namespace) -> Any:
    from fluxserve.settings import load_settings

    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="fluxserve-bench-gpu-"))
    overrides = {"config_path": args.config, "data_dir": data_dir}
    return load_settings(overrides, environ=os.environ)


def models_to_run(settings: Any, args: argparse.Namespace) -> list[str]:
    chosen = args.models or list(MODEL_RUNS)
    return [
        m
        for m in chosen
        if settings.model(m).enabled and (settings.model(m).weights or args.include_demo)
    ]


def bench_model(settings: Any, engine_model: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Rows for one (model, compile setting): one per acceleration level."""
    from fluxserve.engine.inference.local_engine import LocalEngine

    engine = LocalEngine(settings)
    rows: list[dict[str, Any]] = []
    try:
        for acceleration in args.accelerations:
            task = make_task(engine_model, args.size, args.steps, acceleration)
            _reset_peak_memory()
            first = timed(partial(_generate, engine, task))
            times = [timed(partial(_generate, engine, task)) for _ in range(args.repeats)]
            rows.append(
                {
                    "model": engine_model,
                    "weights": settings.model(engine_model).weights or "demo",
                    "steps": task.steps,
                    "compile": settings.engine.compile_repeated_blocks,
                    "acceleration": acceleration,
                    "first_s": first,
                    "times": times,
                    "s_per_image": summary(times)["p50"],
                    "peak_gib": _peak_memory_gib(),
                }
            )
            print(_row_line(rows[-1]), flush=True)
    finally:
        engine.close()
    return rows


def _generate(engine: Any, task: Any) -> None:
    import torch

    engine.generate(task)
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _reset_peak_memory() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def _peak_memory_gib() -> float:
    import torch

    return torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else 0.0


def _row_line(row: dict[str, Any]) -> str:
    return (
        f"{row['model']} compile={row['compile']} acceleration={row['acceleration']}: "
        f"first {row['first_s']:.1f} s, {row['s_per_image']:.2f} s/image"
    )


def report(args: argparse.Namespace, rows: list[dict[str, Any]], info: dict[str, Any]) -> str:
    baseline = {
        (r["model"], r["compile"]): r["s_per_image"] for r in rows if r["acceleration"] == "none"
    }
    table = []
    for r in rows:
        base = baseline.get((r["model"], False)) or baseline.get((r["model"], r["compile"]))
        table.append(
            [
                r["model"],
                r["weights"],
                r["steps"],
                "on" if r["compile"] else "off",
                r["acceleration"],
                f"{r['first_s']:.1f}",
                f"{r['s_per_image']:.2f}",
                f"{base / r['s_per_image']:.2f}x" if base else "-",
                f"{r['peak_gib']:.1f}",
            ]
        )
    headers = [
        "model",
        "weights",
        "steps",
        "compile",
        "acceleration",
        "first call s",
        "s/image (p50)",
        "vs none, compile off",
        "peak GiB",
    ]
    return "\n".join(
        [
            f"## real weights at {args.size}x{args.size}, {args.repeats} timed calls per row",
            f"machine: {machine_line(info)}",
            "",
            markdown_table(headers, table),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--random-full-size" in argv or "--tiny" in argv:
        from random_full_size import main as random_main

        return random_main(argv)
    args = parse_args(argv)
    import torch

    if not torch.cuda.is_available() and not args.allow_cpu:
        print(
            "gpu_models.py needs a CUDA GPU and torch with CUDA; none is available here "
            f"(torch {torch.__version__}). Nothing was run.",
            file=sys.stderr,
        )
        return EXIT_NO_CUDA
    settings = load(args)
    models = models_to_run(settings, args)
    if not models:
        print(
            "no engine model has real weights in the configuration "
            f"({settings.config_path or 'no config file'}); set [models.<id>] weights = ... "
            "or pass --include-demo",
            file=sys.stderr,
        )
        return EXIT_NOTHING_TO_RUN
    rows: list[dict[str, Any]] = []
    for compile_on in args.compile:
        engine_config = settings.engine.model_copy(
            update={"compile_repeated_blocks": compile_on == "on"}
        )
        configured = settings.model_copy(update={"engine": engine_config})
        for engine_model in models:
            rows += bench_model(configured, engine_model, args)
    info = machine()
    print(report(args, rows, info))
    write_json(args.json_path, {"bench": "gpu_models", "options": vars(args), "machine": info,
                                "results": rows})  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
