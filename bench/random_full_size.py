"""Speed and memory of the real FLUX architectures with random weights (no download), through
the engine's own call path: `python bench/gpu_models.py --random-full-size --out DIR`.

Every group of `random_plan.PLAN` builds a fresh in-process `LocalEngine` (the engine the worker
runs) whose models serve `random:full` weights, then times `engine.generate` calls. Per row:
s/image at 1024x1024, transformer ms/step, VAE decode ms, text-encode ms, peak GPU memory, the
first call (which includes compilation) and the build. `--tiny` runs the same plan with tiny
models of the same classes (`random:tiny`, 64x64, 1 step by default): on a CPU, to check the
whole path before a GPU is spent on it. Timings of a tiny run mean nothing.

Writes DIR/results.json and DIR/results.md. Exit status: 0 all rows ran; 1 some row failed (the
others still ran; tracebacks on stderr and in the JSON); 2 no CUDA for a full-size run;
4 the time budget ran out before the plan did."""

from __future__ import annotations

import argparse
import dataclasses
import gc
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
import traceback
from functools import partial
from pathlib import Path
from typing import Any

from benchlib import machine, machine_line, markdown_table, timed
from gpu_models import EXIT_NO_CUDA, _generate, _peak_memory_gib, _reset_peak_memory, make_task
from random_plan import PLAN, SETTINGS, Group, Measure
from stage_timers import StageTimers

EXIT_ERRORS = 1
EXIT_OUT_OF_TIME = 4


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--random-full-size", action="store_true", help="(the default here)")
    parser.add_argument("--tiny", action="store_true", help="tiny models: a CPU check of the path")
    parser.add_argument("--out", type=Path, required=True, help="folder for results.json/.md")
    parser.add_argument("--size", type=int, help="width = height (default 1024; tiny: 64)")
    parser.add_argument("--steps", type=int, help="override every row's steps (tiny: 1)")
    parser.add_argument("--repeats", type=int, default=1, help="timed calls per row")
    parser.add_argument("--models", nargs="+", help="only these engine models")
    parser.add_argument("--settings", nargs="+", choices=sorted(SETTINGS), help="only these")
    parser.add_argument("--budget-s", type=float, default=540.0, help="stop starting groups after")
    parser.add_argument("--data-dir", type=Path, help="data folder (default: a temp dir)")
    args = parser.parse_args(argv)
    args.scale = "tiny" if args.tiny else "full"
    args.size = args.size or (64 if args.tiny else 1024)
    args.steps = args.steps or (1 if args.tiny else None)
    return args


def selected_plan(args: argparse.Namespace) -> list[Group]:
    return [
        g
        for g in PLAN
        if (not args.models or g.model in args.models)
        and (not args.settings or g.setting in args.settings)
    ]


def engine_settings(args: argparse.Namespace, group: Group, data_dir: Path) -> Any:
    from fluxserve.settings import EngineConfig, ModelConfig, Settings

    return Settings(
        data_dir=data_dir,
        models={group.model: ModelConfig(weights=f"random:{args.scale}")},
        engine=EngineConfig(**SETTINGS[group.setting].engine),
    )


def skip_reason(group: Group, on_cuda: bool) -> str | None:
    """Why a group cannot run here (a note in its rows, not an error)."""
    import torch

    if SETTINGS[group.setting].needs_torchao and importlib.util.find_spec("torchao") is None:
        return "skipped: torchao is not installed (pip install torchao)"
    if on_cuda and group.min_gpu_gib:
        total = torch.cuda.get_device_properties(0).total_memory / 2**30
        if total < group.min_gpu_gib:
            return f"skipped: needs about {group.min_gpu_gib:.0f} GiB, the GPU has {total:.0f}"
    return None


def cpu_note(group: Group, on_cuda: bool) -> str:
    """On a CPU the engine runs float32 ("auto") and ignores CUDA-only options (its log says
    which)."""
    if on_cuda:
        return ""
    if SETTINGS[group.setting].engine:
        return "CPU: float32, CUDA-only options not applied"
    return "CPU: float32"


def run_group(args: argparse.Namespace, group: Group, data_dir: Path) -> list[dict[str, Any]]:
    """Rows of one group: a fresh engine, the model built, a first call, then each measure."""
    import torch

    from fluxserve.engine.inference.local_engine import LocalEngine

    on_cuda = torch.cuda.is_available()
    _reset_peak_memory()
    engine = LocalEngine(engine_settings(args, group, data_dir))
    timers = None
    try:
        build_s = timed(partial(engine.loaded_model, group.model))
        timers = StageTimers(engine.loaded_model(group.model).pipe).install()
        rows = []
        for index, measure in enumerate(group.measures):
            task = _task(args, group.model, measure)
            first_s = timed(partial(_generate, engine, task)) if index == 0 else None
            rows.append(_measure(args, engine, timers, group, measure, task))
            rows[-1].update(build_s=build_s if index == 0 else None, first_call_s=first_s)
            rows[-1]["note"] = _note(group, rows[-1], on_cuda)
            print(_row_line(rows[-1]), flush=True)
        return rows
    finally:
        if timers is not None:
            timers.remove()
        engine.close()
        del engine
        # Compiled graphs hold on to the modules they were traced from.
        torch._dynamo.reset()
        gc.collect()
        _reset_peak_memory()


def _task(args: argparse.Namespace, model: str, measure: Measure) -> Any:
    # A row's own step count (klein's distilled 4) wins over --steps, so rows stay distinct.
    task = make_task(model, args.size, measure.steps or args.steps, measure.acceleration)
    return dataclasses.replace(task, seeds=tuple(range(42, 42 + measure.batch)))


def _measure(
    args: argparse.Namespace,
    engine: Any,
    timers: StageTimers,
    group: Group,
    measure: Measure,
    task: Any,
) -> dict[str, Any]:
    calls, stages = [], []
    for _ in range(args.repeats):
        _reset_peak_memory()
        timers.times.reset()
        calls.append(timed(partial(_generate, engine, task)))
        stages.append(dataclasses.replace(timers.times))
    best = min(range(len(calls)), key=calls.__getitem__)
    times = stages[best]
    return {
        **_labels(group, measure, task),
        "call_s": calls[best],
        "calls_s": calls,
        "s_per_image": calls[best] / measure.batch,
        "transformer_ms_per_step": 1000 * times.transformer / task.steps,
        "transformer_calls": times.transformer_calls,
        "vae_decode_ms": 1000 * times.vae_decode,
        "text_encode_ms": 1000 * times.text_encode,
        "peak_gib": _peak_memory_gib() if timers.on_cuda else None,
    }


def _labels(group: Group, measure: Measure, task: Any) -> dict[str, Any]:
    # The task's steps: a measure without its own takes the API default or --steps.
    labels = {"model": group.model, "setting": group.setting, **dataclasses.asdict(measure)}
    return {**labels, "steps": task.steps, "size": task.width}


def _note(group: Group, row: dict[str, Any], on_cuda: bool) -> str:
    notes = [cpu_note(group, on_cuda)]
    if row["acceleration"] != "none":
        notes.append("cache on random weights: per-step cost only, not a speed-up")
    card = SETTINGS[group.setting].card_gib
    if card is not None and row["peak_gib"] is not None:
        fits = row["peak_gib"] <= card
        row["fits_card"] = fits
        notes.append(f"peak {'fits' if fits else 'DOES NOT FIT'} {card:.0f} GiB")
    return "; ".join(n for n in notes if n)


def skipped_rows(args: argparse.Namespace, group: Group, reason: str) -> list[dict[str, Any]]:
    return [
        {**_labels(group, m, _task(args, group.model, m)), "note": reason} for m in group.measures
    ]


def _row_line(row: dict[str, Any]) -> str:
    return (
        f"{row['model']} [{row['setting']}] batch {row['batch']} acceleration "
        f"{row['acceleration']}: {row['s_per_image']:.3f} s/image, "
        f"transformer {row['transformer_ms_per_step']:.1f} ms/step"
    )


COLUMNS = (
    ("model", "model", None),
    ("setting", "setting", None),
    ("acceleration", "cache", None),
    ("batch", "batch", None),
    ("steps", "steps", None),
    ("s_per_image", "s/image", "{:.3f}"),
    ("transformer_ms_per_step", "transformer ms/step", "{:.1f}"),
    ("vae_decode_ms", "VAE decode ms", "{:.1f}"),
    ("text_encode_ms", "text encode ms", "{:.1f}"),
    ("peak_gib", "peak GiB", "{:.1f}"),
    ("first_call_s", "first call s", "{:.1f}"),
    ("build_s", "build s", "{:.1f}"),
    ("note", "note", None),
)


def _cell(value: Any, fmt: str | None) -> str:
    if value is None or value == "":
        return "-"
    return fmt.format(value) if fmt else str(value)


def report(args: argparse.Namespace, payload: dict[str, Any]) -> str:
    rows = [[_cell(r.get(key), fmt) for key, _, fmt in COLUMNS] for r in payload["rows"]]
    kind = "TINY random models (timings meaningless)" if args.tiny else "full-size random models"
    lines = [
        f"## {kind} at {args.size}x{args.size}, through LocalEngine.generate",
        f"machine: {machine_line(payload['machine'])}",
        "versions: " + ", ".join(f"{k} {v}" for k, v in payload["versions"].items()),
        "",
        markdown_table([title for _, title, _ in COLUMNS], rows),
    ]
    if payload["errors"]:
        lines += ["", "**Errors:**", *(f"- {e['group']}: {e['error']}" for e in payload["errors"])]
    if not payload["complete"]:
        lines += [
            "",
            "**Incomplete: the plan did not run to its end (time budget, or still running).**",
        ]
    return "\n".join(lines)


def versions() -> dict[str, str | None]:
    import diffusers
    import torch
    import transformers

    found: dict[str, str | None] = {
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "diffusers": diffusers.__version__,
        "transformers": transformers.__version__,
        "torchao": None,
        "driver": None,
    }
    if importlib.util.find_spec("torchao") is not None:
        import torchao

        found["torchao"] = torchao.__version__
    if torch.cuda.is_available():
        found["driver"] = _driver_version()
    return found


def _driver_version() -> str | None:
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip().splitlines()[0] if out.stdout.strip() else None


def run_plan(args: argparse.Namespace, data_dir: Path, payload: dict[str, Any]) -> None:
    """Run the plan into `payload`, writing the results after every group (a run killed from
    outside still leaves every finished row on disk)."""
    import torch

    started = time.monotonic()
    rows: list[dict[str, Any]] = []
    errors: list[dict[str, str]] = []
    complete = True
    payload.update(rows=rows, errors=errors, complete=False)
    for group in selected_plan(args):
        payload["wall_s"] = time.monotonic() - started
        write_results(args, payload)
        label = f"{group.model} [{group.setting}]"
        reason = skip_reason(group, torch.cuda.is_available())
        if reason is None and time.monotonic() - started > args.budget_s:
            reason, complete = "not run: time budget spent", False
        if reason is not None:
            rows += skipped_rows(args, group, reason)
            print(f"{label}: {reason}", flush=True)
            continue
        try:
            rows += run_group(args, group, data_dir)
        except Exception as exc:
            text = traceback.format_exc()
            print(f"{label} FAILED:\n{text}", file=sys.stderr, flush=True)
            errors.append({"group": label, "error": f"{type(exc).__name__}: {exc}"[:500]})
            rows += skipped_rows(args, group, f"FAILED: {type(exc).__name__}")
    payload.update(complete=complete, wall_s=time.monotonic() - started)
    write_results(args, payload)


def write_results(args: argparse.Namespace, payload: dict[str, Any]) -> str:
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(payload, indent=2, default=str) + "\n")
    markdown = report(args, payload)
    (args.out / "results.md").write_text(markdown + "\n")
    return markdown


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    import torch

    if not args.tiny and not torch.cuda.is_available():
        print("--random-full-size needs a CUDA GPU (use --tiny to check the path on a CPU)",
              file=sys.stderr)  # fmt: skip
        return EXIT_NO_CUDA
    threads = torch.get_num_threads()
    if args.tiny:
        # Tiny models gain nothing from intra-op threads, and on a shared CPU the threads of
        # every op wait on each other: one thread runs this plan about 10x faster there.
        torch.set_num_threads(1)
    try:
        return _run(args)
    finally:
        # Called in process (tests), the caller's torch keeps its own thread count: a different
        # count changes the order of float sums, so the same call's pixels would change too.
        torch.set_num_threads(threads)


def _run(args: argparse.Namespace) -> int:
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="fluxserve-random-"))
    payload: dict[str, Any] = {"bench": "gpu_models_random", "scale": args.scale,
                               "options": vars(args), "machine": machine(),
                               "versions": versions()}  # fmt: skip
    run_plan(args, data_dir, payload)
    print(write_results(args, payload))
    print(f"\nwrote {args.out / 'results.json'} and {args.out / 'results.md'}")
    if payload["errors"]:
        return EXIT_ERRORS
    return 0 if payload["complete"] else EXIT_OUT_OF_TIME
