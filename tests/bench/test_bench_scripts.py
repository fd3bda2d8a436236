"""Each benchmark script runs end to end in a tiny configuration and reports what it measured.

The scripts are imported from bench/ and their `main` called in this process (so torch loads
once) with one work folder, so the demo weights are built once; the overhead script still
starts a real `fluxserve serve` through the CLI."""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess
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


def test_webhook_isolation_times_the_healthy_webhook(tmp_module: Path) -> None:
    payload = run_main(
        "webhook_isolation", tmp_module, "--hanging", "6", "--hosts", "2", "--timeout", "2"
    )
    latency = payload["results"]["healthy_latency_s"]
    assert latency is not None and latency < 2.0


def test_signing_cost_signs_every_format(tmp_module: Path) -> None:
    payload = run_main("signing_cost", tmp_module, "--sizes", "32", "--repeats", "1")
    results = payload["results"]
    assert set(results) == {"32/png", "32/jpeg", "32/webp"}
    for numbers in results.values():
        assert numbers["encode_and_sign"] > 0 and numbers["read_and_validate"] > 0
        assert numbers["added_bytes"] > 1000  # the manifest: claim, signature, certificates


def test_training_lane_times_generation_beside_a_training(tmp_module: Path) -> None:
    payload = run_main(
        "training_lane", tmp_module, "--requests", "2", "--size", "64", "--steps", "1",
        "--training-steps", "400",
    )  # fmt: skip
    assert payload["idle"]["n"] == payload["training"]["n"] == 2
    assert payload["training_still_running"] is True
    assert payload["ratio_p50"] > 0


def _plan_keys(steps: int) -> list[tuple[str, str, str, int, int]]:
    """(model, setting, cache, batch, steps) of every row the plan promises, in order."""
    plan = bench_module("random_plan")
    return [
        (g.model, g.setting, m.acceleration, m.batch, m.steps or steps)
        for g in plan.PLAN
        for m in g.measures
    ]


def test_gpu_check_runs_the_whole_plan_on_tiny_models(tmp_path: Path) -> None:
    """The one-command GPU check, run as shipped with --tiny: every row of the plan is in the
    JSON and the markdown table; rows that ran have timings of every stage."""
    out = tmp_path / "check"
    script = BENCH_DIR.parent / "scripts" / "gpu-check.sh"
    done = subprocess.run(
        [str(script), str(out), "--tiny", "--data-dir", str(tmp_path / "data")],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    payload = json.loads((out / "results.json").read_text())
    assert (payload["scale"], payload["errors"], payload["complete"]) == ("tiny", [], True)
    rows = payload["rows"]
    keys = [(r["model"], r["setting"], r["acceleration"], r["batch"], r["steps"]) for r in rows]
    assert keys == _plan_keys(steps=1)
    ran = [r for r in rows if "s_per_image" in r]
    skipped = [r for r in rows if "s_per_image" not in r]
    # Only the torchao settings may be skipped here, and only when torchao is missing.
    assert all(r["note"].startswith("skipped: torchao") for r in skipped)
    assert {r["setting"] for r in ran} >= {"bf16 eager", "compile"}
    for row in ran:
        assert row["s_per_image"] > 0 and row["transformer_ms_per_step"] > 0, row
        assert row["vae_decode_ms"] > 0 and row["text_encode_ms"] > 0, row
        assert row["transformer_calls"] == row["steps"], row
    markdown = (out / "results.md").read_text()
    assert "TINY random models (timings meaningless)" in markdown
    for model, setting, cache, batch, steps in keys:
        assert f"| {model} | {setting} | {cache} | {batch} | {steps} |" in markdown
    assert "python" in (out / "environment.txt").read_text()


def test_random_plan_fails_loudly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import torch

    module = bench_module("random_full_size")
    out = tmp_path / "out"

    def broken(*_: Any) -> list[dict[str, Any]]:
        raise RuntimeError("boom")

    monkeypatch.setattr(module, "run_group", broken)
    argv = ["--tiny", "--out", str(out), "--models", "flux1-dev", "--settings", "compile"]
    threads = torch.get_num_threads()
    assert module.main(argv) == 1
    assert torch.get_num_threads() == threads  # in process, ours are left as they were
    payload = json.loads((out / "results.json").read_text())
    assert [e["error"] for e in payload["errors"]] == ["RuntimeError: boom"]
    assert "RuntimeError: boom" in (out / "results.md").read_text()
    assert "FAILED" in capsys.readouterr().err
    # Out of time: groups not started are listed, and the exit status says so.
    assert module.main(["--tiny", "--out", str(out), "--budget-s", "-1"]) == 4
    payload = json.loads((out / "results.json").read_text())
    assert payload["complete"] is False
    assert {r["note"] for r in payload["rows"]} <= {
        "not run: time budget spent", "skipped: torchao is not installed (pip install torchao)"
    }  # fmt: skip


def test_full_size_check_needs_cuda(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    code = bench_module("gpu_models").main(["--random-full-size", "--out", str(tmp_path)])
    assert code == 2
    assert "needs a CUDA GPU" in capsys.readouterr().err


WRK_OUTPUT = """Running 5s test @ http://127.0.0.1:8000/submit
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     7.41ms    1.20ms  20.00ms   90.00%
    Req/Sec     4.10k   200.00     4.50k    80.00%
  Latency Distribution
     50%  730.00us
     75%    7.80ms
     90%    8.50ms
     99%    1.02s
  20400 requests in 5.01s, 3.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 12
Requests/sec:   4071.86
Transfer/sec:    613.23KB
"""


def test_gateway_reads_wrks_report() -> None:
    numbers = bench_module("gateway").parse_wrk(WRK_OUTPUT)
    assert numbers == {
        "requests": 20400 - 15, "failures": 15, "seconds": 5.01, "p50": 730e-6, "p99": 1.02,
    }  # fmt: skip


@pytest.mark.parametrize("client", ["httpx", "wrk"])
def test_gateway_measures_bare_and_fluxserve_routes(tmp_module: Path, client: str) -> None:
    if client == "wrk" and shutil.which("wrk") is None:
        pytest.skip("wrk is not installed (apt install wrk); the httpx client ran instead")
    payload = run_main(
        "gateway", tmp_module, "--duration", "1", "--rounds", "1", "--concurrency", "2",
        "--api-processes", "1", "--client", client,
    )  # fmt: skip
    targets = payload["results"]["targets"]
    assert targets == [
        "bare FastAPI + SQLite", "bare FastAPI + SQLite, off the loop", "fluxserve, 1 API process"
    ]  # fmt: skip
    for name in targets:
        for op in ("submit", "status"):
            numbers = payload["results"]["summary"][name][op]
            assert numbers["failures"] == 0
            assert numbers["rps"] > 0 and numbers["p99"] >= numbers["p50"] > 0
