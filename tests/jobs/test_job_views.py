"""The wire shapes of a job, checked against the spec's examples."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from fluxserve.jobs.records import JobRecord, JobState
from fluxserve.jobs.views import MediaState, UrlFor, batch_status_body, iso_utc, status_body

CREATED = datetime(2026, 3, 31, 10, 0, 0, tzinfo=UTC)
DONE = datetime(2026, 3, 31, 10, 0, 15, 123456, tzinfo=UTC)
JOB = JobRecord(
    request_id="flux-dev_019d0000-0000-7000-8000-000000000000",
    model_id="flux-dev",
    key_id="key_x",
    state=JobState.QUEUED,
    spec={"prompt": "a cat"},
    price_micros=25_000,
    output_keys=[],
    media_type=None,
    error=None,
    progress=None,
    attempts=0,
    created_at=CREATED,
    updated_at=CREATED,
    completed_at=None,
    webhook_url=None,
    webhook_events=None,
    webhook_style="status",
    alias=None,
    worker_id=None,
    lease_until=None,
)
COMPLETED = replace(
    JOB,
    state=JobState.COMPLETED,
    # A key (URL built when answering) and a URL stored before keys were.
    output_keys=["outputs/flux-dev_019d/a1/0.png", "https://cdn.example/1.png"],
    media_type="image/png",
    updated_at=DONE,
    completed_at=DONE,
)


def _on(base: str) -> UrlFor:
    return lambda key: f"{base}/media/{key}"


def test_iso_utc_has_milliseconds_and_z() -> None:
    assert iso_utc(DONE) == "2026-03-31T10:00:15.123Z"
    assert iso_utc(CREATED) == "2026-03-31T10:00:00.000Z"
    assert iso_utc(CREATED.astimezone(timezone(timedelta(hours=2)))) == "2026-03-31T10:00:00.000Z"
    assert iso_utc(None) is None
    with pytest.raises(ValueError):
        iso_utc(datetime(2026, 1, 1))


def test_status_body_completed_matches_spec_shape() -> None:
    body = status_body(COMPLETED, _on("https://api.example"))

    assert body == {
        "request_id": JOB.request_id,
        "status": "COMPLETED",
        "model_id": "flux-dev",
        "error": None,
        "output": {
            "media_url": [
                "https://api.example/media/outputs/flux-dev_019d/a1/0.png",
                "https://cdn.example/1.png",
            ],
            "media_type": "image/png",
        },
        "created_at": "2026-03-31T10:00:00.000Z",
        "updated_at": "2026-03-31T10:00:15.123Z",
        "completed_at": "2026-03-31T10:00:15.123Z",
    }


def test_status_body_hides_output_until_completed_and_shows_progress() -> None:
    running = replace(JOB, state=JobState.PROCESSING, progress={"step": 2, "of": 4})
    failed = replace(JOB, state=JobState.ERROR, error="engine crashed", completed_at=DONE)

    assert status_body(running, _on("http://h"))["output"] is None
    assert status_body(running, _on("http://h"))["progress"] == {"step": 2, "of": 4}
    assert "progress" not in status_body(JOB, _on("http://h"))
    assert status_body(failed, _on("http://h"))["error"] == "engine crashed"
    assert status_body(failed, _on("http://h"))["status"] == "ERROR"


def test_batch_status_body() -> None:
    alias = "18a36237-f8b2-4c8d-9a3b-d5e8a9f12c45"
    done = replace(COMPLETED, alias=alias, webhook_style="batch")
    failed = replace(JOB, alias=alias, state=JobState.FAILED, error="bad prompt")

    assert batch_status_body(done, _on("http://h:8000")) == {
        "requestId": alias,
        "status": "completed",
        "output": "http://h:8000/media/outputs/flux-dev_019d/a1/0.png",
        "completedAt": 1774951215123,
    }
    assert batch_status_body(replace(JOB, alias=alias), _on("http://h")) == {
        "requestId": alias,
        "status": "queued",
        "output": None,
        "completedAt": None,
    }
    assert batch_status_body(failed, _on("http://h"))["error"] == "bad prompt"
    assert batch_status_body(failed, _on("http://h"))["status"] == "failed"


def test_media_state_adds_expiry_beside_an_output_and_says_when_it_was_deleted() -> None:
    expiry = DONE + timedelta(days=7)
    fresh = status_body(COMPLETED, _on("http://a"), MediaState(expiry))
    assert fresh["expires_at"] == "2026-04-07T10:00:15.123Z" and fresh["output"] is not None
    assert "expires_at" not in status_body(JOB, _on("http://a"), MediaState(expiry))
    public = status_body(COMPLETED, _on("http://a"), MediaState(None))
    assert public["expires_at"] is None  # URLs that do not expire
    gone = status_body(COMPLETED, _on("http://a"), MediaState(expiry, deleted_at=expiry))
    assert gone["status"] == "COMPLETED" and gone["output"] is None
    assert gone["media_deleted_at"] == "2026-04-07T10:00:15.123Z" and "expires_at" not in gone
    # Without a media state (webhooks), the body is exactly the spec's.
    assert "expires_at" not in status_body(COMPLETED, _on("http://a"))
