"""Each benchmark script runs end to end in a tiny configuration and reports what it measured.

The scripts are imported from bench/ and their `main` called in this process (so torch loads
once) with one work folder, so the demo weights are built once; the overhead script still
starts a real `fluxserve serve` through the CLI."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH_DIR = Path(__file__).resolve().parents[2] / "bench"


def bench_module(name: str) -> ModuleType:
    if str(BENCH_DIR) not in sys.path:
        sys.path.insert(0, str(BENCH_DIR))
    return importlib.import_module(name)


def run_main(name: str, tmp_path: Path, *args: str) -> dict[str, Any]:
    out = tmp_path / f"{name}.json"
    argv = [*args, "--work-dir", str(tmp_path / "work"), "--json", str(out)]
    assert bench_module(name).main(argv) == 0
    payload: dict[str, Any] = json.loads(out.read_text())
    assert payload["bench"] == name
    assert payload["machine"]["cpus"] >= 1
    return payload


@pytest.fixture(scope="module")
def tmp_module(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bench")


def test_overhead_measures_http_and_bare_calls(
    tmp_module: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    payload = run_main(
        "overhead", tmp_module, "--modes", "inprocess", "--requests", "2", "--warmup", "1",
        "--size", "64", "--steps", "1", "--image-checker", "none",
    )  # fmt: skip
    mode = payload["results"]["modes"]["inprocess"]
    assert mode["http"]["n"] == 2
    assert len(mode["bare_samples"]) == 6  # two blocks of max(requests // 2, 3)
    assert mode["http"]["p50"] > 0 and mode["bare"]["p50"] > 0
    # Overhead is each HTTP latency minus the median bare call around it.
    assert mode["overhead"]["p50"] == pytest.approx(mode["http"]["p50"] - mode["bare"]["p50"])
    assert "| inprocess (isolate=false) |" in capsys.readouterr().out


def test_batching_runs_both_engines_and_images_match(tmp_module: Path) -> None:
    payload = run_main(
        "batching", tmp_module, "--sizes", "64", "--steps", "1", "--rounds", "1",
        "--tasks", "2", "--batch", "2",
    )  # fmt: skip
    numbers = payload["results"]["sizes"]["64"]
    assert set(numbers["times"]) == {"1", "2"}
    assert all(len(t) == 1 and t[0] > 0 for t in numbers["times"].values())
    # One generator per image: batched images equal the ones made alone, to rounding.
    assert numbers["max_pixel_diff"] <= 2


def test_caching_counts_skipped_blocks(tmp_module: Path) -> None:
    steps = 4
    payload = run_main(
        "caching", tmp_module, "--size", "64", "--steps", str(steps), "--repeats", "1",
        "--demo-threshold", "1e9",
    )  # fmt: skip
    results = payload["results"]
    blocks = results["blocks_per_step"]
    rows = {row["label"].split(" ")[0]: row for row in results["rows"]}
    assert rows["none"]["computed"] == blocks * steps
    # An absurd threshold caches every step after the first: only first blocks run then.
    assert rows["BENCH"]["computed"] == blocks + (steps - 1)


def test_gpu_models_runs_the_loop_on_cpu_when_told(
    tmp_module: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    module = bench_module("gpu_models")
    out = tmp_module / "gpu.json"
    code = module.main(
        [
            "--allow-cpu", "--include-demo", "--models", "flux1-schnell",
            "--accelerations", "none", "--compile", "off", "--size", "64", "--steps", "1",
            "--repeats", "1", "--data-dir", str(tmp_module / "work"), "--json", str(out),
        ]
    )  # fmt: skip
    assert code == 0
    rows = json.loads(out.read_text())["results"]
    assert [(r["model"], r["acceleration"], r["weights"]) for r in rows] == [
        ("flux1-schnell", "none", "demo")
    ]
    assert "| flux1-schnell | demo | 1 | off | none |" in capsys.readouterr().out


def test_gpu_models_refuses_to_run_without_cuda(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert bench_module("gpu_models").main([]) == 2
    assert "needs a CUDA GPU" in capsys.readouterr().err


def test_encode_cost_times_every_encoding(tmp_module: Path) -> None:
    payload = run_main("encode_cost", tmp_module, "--sizes", "32", "--repeats", "1")
    results = payload["results"]
    assert set(results) == {"32/noise (demo output)", "32/photo-like"}
    for numbers in results.values():
        assert all(numbers[k] > 0 for k in ("png6_encode", "png1_encode", "png_decode"))
    # Noise does not compress; the photo-like stand-in does.
    assert results["32/photo-like"]["png6_mb"] < results["32/noise (demo output)"]["png6_mb"]


def test_overhead_breakdown_times_every_stage(tmp_module: Path) -> None:
    payload = run_main(
        "overhead_breakdown", tmp_module, "--inprocess", "--image-checker", "none",
        "--requests", "2", "--warmup", "1", "--size", "64", "--steps", "1",
        "--what-if", "no-fsync",
    )  # fmt: skip
    results = payload["results"]
    assert results["client"]["n"] == 2
    stages = results["stages"]
    for stage in ("api: submit (hold + insert job)", "worker: engine.generate"):
        assert stages[stage]["n"] == 2
    # The engine call happens inside the request, so it cannot take longer than the request.
    assert stages["worker: engine.generate"]["p50"] < results["client"]["p50"]
