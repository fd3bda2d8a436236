"""ProcessEngine: the same engine in a child process, which may die and comes back."""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from fluxserve.engine.boundary.interface import Engine
from fluxserve.engine.boundary.messages import Progress
from fluxserve.engine.boundary.process_engine import ProcessEngine
from fluxserve.engine.inference.local_engine import LocalEngine
from fluxserve.errors import Cancelled, EngineFailure, InvalidRequest, ModelNotFound
from fluxserve.settings import ModelConfig, Settings
from tests.engine.fixtures_local_engine import make_settings, make_task, max_difference

MISSING = "/nonexistent/flux1-dev"


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory, demo_cache: Path) -> Settings:
    return make_settings(
        tmp_path_factory.mktemp("process"),
        demo_cache,
        models={"flux1-dev": ModelConfig(weights=MISSING)},
    )


@pytest.fixture(scope="module")
def engine(settings: Settings) -> Iterator[ProcessEngine]:
    engine = ProcessEngine(settings)
    yield engine
    engine.close()


def test_runs_in_another_process_with_the_same_pixels(
    engine: ProcessEngine, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    task = make_task("flux2-klein-4b", width=128, seeds=(1, 2))
    with caplog.at_level(logging.INFO, logger="fluxserve.engine"):
        remote = engine.generate(task)
    assert engine.pid is not None and engine.pid != os.getpid()
    # The child's log records are re-logged here.
    assert "flux2-klein-4b: serving DEMO weights" in caplog.text
    local: Engine = LocalEngine(settings)
    here = local.generate(task)
    local.close()
    assert [image.size for image in remote] == [(128, 64), (128, 64)]
    assert all(max_difference(a, b) == 0 for a, b in zip(remote, here, strict=True))


def test_progress_and_batches_come_back(engine: ProcessEngine) -> None:
    seen: list[Progress] = []
    engine.generate(make_task(steps=3), seen.append)
    assert [p.step for p in seen] == [1, 2, 3]
    rows = engine.generate_many([make_task(seeds=(1, 2)), make_task(prompt="other")])
    assert [len(row) for row in rows] == [2, 1]


def test_a_stop_signal_reaches_the_child_at_its_next_step(engine: ProcessEngine) -> None:
    stop = threading.Event()
    seen: list[Progress] = []

    def progress(update: Progress) -> None:
        seen.append(update)
        stop.set()  # cancelled once the first step is reported

    with pytest.raises(Cancelled, match="cancelled after denoising step"):
        engine.generate(make_task(steps=50), progress, stop)
    assert 1 <= len(seen) < 50
    # The flag belongs to that call only: the next one runs to its end.
    again: list[Progress] = []
    assert len(engine.generate(make_task(steps=3), again.append, threading.Event())) == 1
    assert [p.step for p in again] == [1, 2, 3]


def test_domain_errors_cross_the_boundary(engine: ProcessEngine) -> None:
    with pytest.raises(ModelNotFound) as caught:
        engine.generate(make_task("flux1-dev"))
    assert caught.value.model_id == "flux1-dev"
    assert caught.value.reason == f"weights folder {MISSING} does not exist"
    with pytest.raises(InvalidRequest, match="multiples of 16"):
        engine.generate(make_task(width=70))
    status = next(s for s in engine.statuses() if s.engine_model == "flux1-dev")
    assert (status.enabled, status.weights) == (False, MISSING)


def test_a_killed_child_fails_the_call_and_the_next_call_restarts_it(
    engine: ProcessEngine,
) -> None:
    first_pid = engine.pid
    assert first_pid is not None

    def kill_at_second_step(progress: Progress) -> None:
        if progress.step == 2:
            os.kill(first_pid, signal.SIGKILL)

    long_task = make_task(width=256, height=256, steps=50)
    with pytest.raises(EngineFailure, match="died during the call"):
        engine.generate(long_task, kill_at_second_step)
    images = engine.generate(make_task())
    assert len(images) == 1
    assert engine.pid not in (None, first_pid)


def test_close_stops_the_child(engine: ProcessEngine) -> None:
    engine.generate(make_task())  # a child runs, whatever ran before
    pid = engine.pid
    assert pid is not None
    engine.close()
    assert engine.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
