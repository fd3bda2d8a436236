"""A LoRA training survives a SIGKILL of the whole server: restarted on the same data folder,
it continues from its last checkpoint (the step counter goes on, it does not start over) and
its result covers every step, charged once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.api.conftest import write_config
from tests.support.client import poll
from tests.support.jobs import status, submit
from tests.support.ledger import ledger_kinds
from tests.support.servers import FileServer, FluxServer, create_key

TRAINER = "/flux-2-pro-text-to-image-trainer-712/v1/flux-2-pro-text-to-image-trainer-request"
STEPS = 50  # ~0.03 s a step at 64 px on demo weights (more under load): seconds of training
CHECKPOINT_EVERY = 5
KILL_AFTER_STEP = 10
SPEC_FIELDS = {
    "request_id",
    "status",
    "model_id",
    "error",
    "output",
    "created_at",
    "updated_at",
    "completed_at",
}


def _watch_until_step(server: FluxServer, key: str, request_id: str) -> dict[int, float]:
    """Poll while the training runs; returns the (step -> loss) progress seen, once some
    step >= KILL_AFTER_STEP has been reported. Checks the running status's shape on the way."""
    seen: dict[int, float] = {}
    for _ in range(3000):
        body = status(server.url, request_id, key)
        assert body["status"] in ("QUEUED", "PROCESSING"), body
        progress = body.get("progress")
        if progress is not None:
            assert body["status"] == "PROCESSING"
            assert set(body) == SPEC_FIELDS | {"progress", "eta_s"}
            assert body["output"] is None and body["completed_at"] is None
            assert body["error"] is None
            assert set(progress) == {"step", "total", "loss"}
            assert progress["total"] == STEPS and 1 <= progress["step"] <= STEPS
            assert isinstance(progress["loss"], float)
            seen[progress["step"]] = progress["loss"]
            if progress["step"] >= KILL_AFTER_STEP:
                return seen
    raise AssertionError(f"training never reached step {KILL_AFTER_STEP}: {seen}")


def test_training_resumes_after_the_server_is_killed(
    tmp_path: Path, demo_cache_dir: Path, files: FileServer
) -> None:
    config = write_config(tmp_path / "config.toml", demo_cache_dir)
    text = config.read_text().replace(
        "checkpoint_every = 500", f"checkpoint_every = {CHECKPOINT_EVERY}"
    )
    config.write_text(text)
    key = create_key(tmp_path, credit="10")
    body = {"image_data_url": files.url("dataset.zip"), "steps": STEPS, "learning_rate": 0.001}

    first = FluxServer(tmp_path, config=config).start()
    try:
        request_id = submit(first.url, TRAINER, key, body)
        seen = _watch_until_step(first, key, request_id)
    finally:
        first.kill()

    second = FluxServer(tmp_path, config=config).start()
    try:
        done = poll(second.url, request_id, key)
    finally:
        second.stop()
    assert done["status"] == "COMPLETED", done
    assert done["progress"]["step"] == STEPS
    sidecar_url = done["output"]["media_url"][1]
    assert sidecar_url.startswith(second.url) and sidecar_url.endswith("/lora.json")

    # The media outlive the server: read the sidecar from storage (the attempt's folder).
    relative = "outputs/" + sidecar_url.split("/outputs/", 1)[1]  # past the URL's signature
    sidecar: dict[str, Any] = json.loads((tmp_path / "media" / relative).read_text())
    resumed = sidecar["resumed_from_step"]
    assert resumed >= KILL_AFTER_STEP and resumed % CHECKPOINT_EVERY == 0
    assert resumed < STEPS
    assert sidecar["steps"] == STEPS
    curve = sidecar["loss_curve"]
    assert len(curve) == STEPS
    # Steps up to the checkpoint are the ones the first server ran and reported.
    for step, loss in seen.items():
        if step <= resumed:
            assert round(curve[step - 1], 6) == loss, (step, curve[step - 1], loss)
    assert ledger_kinds(tmp_path, key, request_id) == ["hold", "capture"]
