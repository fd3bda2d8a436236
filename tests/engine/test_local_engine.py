"""LocalEngine on the demo weights: every operation, batching, progress, statuses, errors."""

from __future__ import annotations

import dataclasses
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import diffusers
import pytest

from fluxserve.catalog import ENGINE_MODELS
from fluxserve.engine.boundary.interface import Engine
from fluxserve.engine.boundary.messages import Progress
from fluxserve.engine.inference import local_engine as local_engine_module
from fluxserve.engine.inference.local_engine import LocalEngine
from fluxserve.errors import InvalidRequest, ModelNotFound
from fluxserve.settings import ModelConfig
from tests.engine.fixtures_local_engine import (
    OPERATION_CASES,
    input_png,
    local_engine,
    make_settings,
    make_task,
    max_difference,
)

__all__ = ["local_engine"]


def spy_on_calls(monkeypatch: pytest.MonkeyPatch, pipeline_class: Any) -> list[dict[str, Any]]:
    """The keyword arguments of every call of `pipeline_class` from here on."""
    calls: list[dict[str, Any]] = []
    original = pipeline_class.__call__

    def spy(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(pipeline_class, "__call__", spy)
    return calls


@pytest.mark.parametrize(("engine_model", "fields"), OPERATION_CASES)
def test_every_operation_returns_exactly_the_requested_size(
    local_engine: LocalEngine, engine_model: str, fields: dict[str, Any]
) -> None:
    task = make_task(engine_model, width=128, height=64, seeds=(3, 4), **fields)
    images = local_engine.generate(task)
    assert [image.size for image in images] == [(128, 64), (128, 64)]
    assert all(image.mode == "RGB" for image in images)
    assert max_difference(images[0], images[1]) > 0  # one generator per seed


def test_same_seed_same_pixels(local_engine: LocalEngine) -> None:
    first = local_engine.generate(make_task(seeds=(7,)))[0]
    again = local_engine.generate(make_task(seeds=(7,)))[0]
    assert max_difference(first, again) == 0


@pytest.mark.parametrize(("engine_model", "fields"), OPERATION_CASES[2:5] + OPERATION_CASES[6:7])
def test_batched_call_gives_the_pixels_of_separate_calls(
    local_engine: LocalEngine, engine_model: str, fields: dict[str, Any]
) -> None:
    tasks = [
        make_task(engine_model, seeds=(11, 12), **fields),
        make_task(engine_model, prompt="a blue boat", seeds=(13,), **fields),
    ]
    batched = local_engine.generate_many(tasks)
    separate = [
        [local_engine.generate(dataclasses.replace(t, seeds=(s,)))[0] for s in t.seeds]
        for t in tasks
    ]
    for batched_row, separate_row in zip(batched, separate, strict=True):
        for together, alone in zip(batched_row, separate_row, strict=True):
            # Equal up to float rounding in batched matmuls: at most one level of 255.
            assert max_difference(together, alone) <= 1


def test_text_to_image_batches_of_many_tasks_match(local_engine: LocalEngine) -> None:
    tasks = [make_task(prompt=f"prompt {i}", seeds=(i,)) for i in range(3)]
    batched = local_engine.generate_many(tasks)
    for task, row in zip(tasks, batched, strict=True):
        assert max_difference(row[0], local_engine.generate(task)[0]) <= 1


def test_progress_reports_every_step(local_engine: LocalEngine) -> None:
    seen: list[Progress] = []
    local_engine.generate(make_task(steps=3), seen.append)
    assert seen == [Progress(1, 3), Progress(2, 3), Progress(3, 3)]


def test_progress_counts_steps_actually_run_for_img2img(local_engine: LocalEngine) -> None:
    seen: list[Progress] = []
    task = make_task(
        "flux1-dev", operation="image_to_image", image=input_png(), strength=0.5, steps=4
    )
    local_engine.generate(task, seen.append)
    assert [p.step for p in seen] == [1, 2]
    assert {p.total for p in seen} == {2}


def test_statuses_cover_every_engine_model(local_engine: LocalEngine) -> None:
    local_engine.generate(make_task("flux1-schnell"))
    statuses = {s.engine_model: s for s in local_engine.statuses()}
    assert set(statuses) == set(ENGINE_MODELS)
    schnell = statuses["flux1-schnell"]
    assert (schnell.weights, schnell.demo, schnell.enabled, schnell.loaded) == (
        "demo",
        True,
        True,
        True,
    )


def test_size_not_on_the_latent_grid_is_refused(local_engine: LocalEngine) -> None:
    with pytest.raises(InvalidRequest, match="multiples of 16"):
        local_engine.generate(make_task(width=100))


def test_operation_the_model_lacks_is_refused(local_engine: LocalEngine) -> None:
    with pytest.raises(InvalidRequest, match="does not support"):
        local_engine.generate(make_task("flux2-klein-4b", operation="fill"))


def test_unknown_engine_model(local_engine: LocalEngine) -> None:
    with pytest.raises(ModelNotFound, match="unknown engine model"):
        local_engine.generate(make_task("flux9"))


def test_configured_but_missing_weights_disable_only_that_model(
    tmp_path: Path, demo_cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    missing = tmp_path / "weights" / "flux1-dev"
    settings = make_settings(
        tmp_path / "data", demo_cache, models={"flux1-dev": ModelConfig(weights=str(missing))}
    )
    with caplog.at_level(logging.WARNING, logger="fluxserve.engine"):
        engine: Engine = LocalEngine(settings)
    status = next(s for s in engine.statuses() if s.engine_model == "flux1-dev")
    assert (status.enabled, status.demo, status.weights) == (False, False, str(missing))
    assert status.reason == f"weights folder {missing} does not exist"
    assert f"flux1-dev: disabled: weights folder {missing}" in caplog.text
    with pytest.raises(ModelNotFound) as caught:
        engine.generate(make_task("flux1-dev"))
    assert caught.value.reason == status.reason
    assert len(engine.generate(make_task("flux1-schnell"))) == 1  # never a silent demo fallback
    engine.close()


def test_weights_that_fail_to_load_disable_the_model(tmp_path: Path, demo_cache: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "model_index.json").write_text('{"_class_name": "FluxPipeline"}')
    settings = make_settings(
        tmp_path / "data",
        demo_cache,
        models={
            "flux1-schnell": ModelConfig(weights=str(broken)),
            "flux2-dev": ModelConfig(weights="fluxserve-tests/no-such-model"),
        },
    )
    engine = LocalEngine(settings)
    for model in ("flux1-schnell", "flux2-dev"):
        with pytest.raises(ModelNotFound):
            engine.generate(make_task(model))
    statuses = {s.engine_model: s for s in engine.statuses()}
    assert statuses["flux1-schnell"].enabled is False
    assert str(broken) in (statuses["flux1-schnell"].reason or "")
    assert "fluxserve-tests/no-such-model" in (statuses["flux2-dev"].reason or "")
    engine.close()


def test_demo_weights_are_announced_at_load(
    tmp_path: Path, demo_cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(tmp_path, demo_cache)
    with caplog.at_level(logging.WARNING, logger="fluxserve.engine"):
        engine = LocalEngine(settings)
        engine.generate(make_task("flux2-klein-4b"))
    assert "flux2-klein-4b: serving DEMO weights (tiny random, images are noise)" in caplog.text
    engine.close()


@pytest.mark.parametrize(
    ("engine_model", "expected"), [("flux1-schnell", 256), ("flux1-dev", None)]
)
@pytest.mark.parametrize(
    "fields", [{}, {"operation": "image_to_image", "strength": 0.8, "image": input_png()}]
)
def test_schnell_prompts_stop_at_its_maximum_length(
    local_engine: LocalEngine,
    monkeypatch: pytest.MonkeyPatch,
    engine_model: str,
    expected: int | None,
    fields: dict[str, Any],
) -> None:
    # diffusers documents 256 tokens as FLUX.1-schnell's maximum; the others keep the default.
    text_calls = spy_on_calls(monkeypatch, diffusers.FluxPipeline)
    image_calls = spy_on_calls(monkeypatch, diffusers.FluxImg2ImgPipeline)
    local_engine.generate(make_task(engine_model, **fields))
    [kwargs] = text_calls + image_calls
    assert kwargs.get("max_sequence_length") == expected


def test_every_call_runs_on_the_engines_own_thread(
    local_engine: LocalEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whichever thread calls, the pipelines run on one thread: torch's CPU parallelism stays
    slower for good once a second thread of the process has used it."""
    ran_on: list[int] = []
    original = local_engine_module.run_batch

    def recording(*args: Any, **kwargs: Any) -> Any:
        ran_on.append(threading.get_ident())
        return original(*args, **kwargs)

    monkeypatch.setattr(local_engine_module, "run_batch", recording)
    callers = [threading.get_ident()]
    local_engine.generate(make_task())
    for _ in range(2):
        with ThreadPoolExecutor(1) as other:
            callers.append(other.submit(threading.get_ident).result())
            other.submit(local_engine.generate, make_task()).result()
    assert len(ran_on) == 3 and len(set(ran_on)) == 1
    assert not set(ran_on) & set(callers)
