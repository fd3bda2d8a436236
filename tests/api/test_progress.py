"""A running job's status shows its progress: PROCESSING with a step counter that climbs to the
total, then COMPLETED with consistent timestamps."""

from __future__ import annotations

import time
from datetime import datetime

from tests.api.conftest import Api
from tests.support.jobs import TERMINAL, status, submit

STEPS = 30  # 1024² on demo weights: a few seconds, several progress reports


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def test_status_reports_climbing_progress_then_completion(api: Api) -> None:
    body = {
        "prompt": "a clock tower at noon",
        "image_size": "square_hd",
        "num_inference_steps": STEPS,
        "seed": 3,
    }
    rid = submit(api.url, "/flux-dev/v1/dev/textToImage", api.key, body)
    states: list[str] = []
    steps: list[int] = []
    deadline = time.monotonic() + 240
    current = status(api.url, rid, api.key)
    while current["status"] not in TERMINAL:
        assert time.monotonic() < deadline, current
        if not states or states[-1] != current["status"]:
            states.append(current["status"])
        progress = current.get("progress")
        if progress is not None:
            assert current["status"] == "PROCESSING"
            assert progress["total"] == STEPS and 1 <= progress["step"] <= STEPS
            assert current["output"] is None and current["completed_at"] is None
            steps.append(progress["step"])
        time.sleep(0.05)
        current = status(api.url, rid, api.key)

    assert current["status"] == "COMPLETED", current
    assert states[-1] == "PROCESSING" and set(states) <= {"QUEUED", "PROCESSING"}
    assert steps == sorted(steps), steps  # never goes backwards
    assert len(set(steps)) >= 2, steps  # and was seen moving
    assert current["progress"] == {"step": STEPS, "total": STEPS}
    created, updated = _parse(current["created_at"]), _parse(current["updated_at"])
    completed = _parse(current["completed_at"])
    assert created <= updated and created <= completed
