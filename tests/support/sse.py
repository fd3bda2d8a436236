"""Reading a Server-Sent Events stream with httpx, as a browser's EventSource would."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class Event:
    id: str | None
    event: str
    data: dict[str, Any]


def events(
    url: str, key: str, last_event_id: str | None = None, timeout_s: float = 180.0
) -> Iterator[Event]:
    """Each event of the stream at `url`, until the server ends it."""
    headers = {"Ocp-Apim-Subscription-Key": key, "Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    with httpx.stream("GET", url, headers=headers, timeout=timeout_s) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        fields: dict[str, str] = {}
        for line in response.iter_lines():
            if not line:
                if "data" in fields:
                    data = json.loads(fields["data"])
                    yield Event(fields.get("id"), fields.get("event", "message"), data)
                fields = {}
            elif not line.startswith(":"):  # a comment line keeps the stream alive
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")


def events_url(base_url: str, request_id: str) -> str:
    return f"{base_url}/v2/requests/{request_id}/events"
