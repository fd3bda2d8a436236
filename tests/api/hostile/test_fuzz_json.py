"""Arbitrary JSON, and bytes that are almost JSON, thrown at every submit route: deep nesting,
huge numbers, NUL and lone surrogates, long strings, the routes' own field names with wrong
values. Whatever comes, the answer is never a 5xx (on SQLite and on PostgreSQL)."""

from __future__ import annotations

import json
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fluxserve.catalog import API_MODELS
from tests.api.hostile.conftest import Target

ROUTES = [e for m in API_MODELS.values() for e in m.endpoints]
SUBMIT_PATHS = sorted(route.path for route in ROUTES)
SYNC_PATHS = frozenset(route.path for route in ROUTES if route.mode == "sync")
FIELDS = [
    "prompt", "seed", "width", "height", "image_size", "image_url", "image_urls", "image",
    "mask", "input_image", "loras", "path", "scale", "steps", "num_steps", "webhook",
    "webhook_url", "webhook_events_filter", "image_data_url", "requestId", "output_format",
    "safety_tolerance", "guidance", "strength", "learning_rate", "trigger_phrase",
]  # fmt: skip

any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=40)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | any_text
    | st.sampled_from(["data:image/png;base64,AAAA", "http://10.0.0.1/x", "a\u0000b", "\ud800"])
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(FIELDS) | any_text, inner, max_size=5)
    ),
    max_leaves=20,
)
bodies = st.dictionaries(st.sampled_from(FIELDS), values, max_size=6).map(
    lambda body: json.dumps(body).encode()
)
raw_attacks = st.one_of(
    st.integers(1, 200_000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(1, 200_000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
    st.integers(100, 20_000).map(lambda n: b'{"prompt": "x", "seed": ' + b"7" * n + b"}"),
    st.integers(100, 20_000).map(lambda n: b'{"seed": 1e' + b"9" * n + b"}"),
    st.integers(0, 900_000).map(lambda n: b'{"prompt": "' + b"a" * n + b'"}'),
    st.binary(max_size=64),
)


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(path=st.sampled_from(SUBMIT_PATHS), body=bodies | raw_attacks)
def test_no_json_gets_a_server_error(target: Target, path: str, body: bytes) -> None:
    response = httpx.post(f"{target.url}{path}", content=body, headers=target.headers(), timeout=60)
    sync_timeout = response.status_code == 504 and path in SYNC_PATHS  # no workers here
    assert response.status_code < 500 or sync_timeout, (path, body[:200], response.text)
    payload: Any = response.json()
    assert isinstance(payload, dict) and payload
