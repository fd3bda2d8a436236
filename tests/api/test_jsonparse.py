"""`parse_json_body` turns every hostile body into InvalidRequest and nothing else."""

from __future__ import annotations

import pytest

from fluxserve.api.jsonparse import MAX_DEPTH, parse_json_body
from fluxserve.errors import InvalidRequest


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        (b"", "required"),
        (b"[" * 100_000 + b"]" * 100_000, "nested"),
        (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), "nested"),
        (b'{"x": ' + b"1" * 5000 + b"}", "digits"),
        (b'{"x": 0.' + b"1" * 5000 + b"}", "digits"),
        (b'{"x": 1e999}', "out of range"),
        (b'{"x": -Infinity}', "not a JSON value"),
        (b'{"x": "a\\u0000b"}', "NUL"),
        (b'{"a\\u0000": 1}', "NUL"),
        (b'["\\udc00"]', "surrogates"),
        (b'"\xc3\x28"', "valid JSON"),
        (b'{"x": 1', "valid JSON"),
    ],
)
def test_hostile_bodies_are_invalid_requests(raw: bytes, said: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_json_body(raw)
    assert said in caught.value.message


def test_ordinary_bodies_parse() -> None:
    nested = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    assert parse_json_body(nested) is not None
    raw = '{"prompt": "ünïcode 🦊", "seed": 42, "guidance": 3.5, "loras": [{"path": "x"}]}'
    assert parse_json_body(raw.encode()) == {
        "prompt": "ünïcode 🦊",
        "seed": 42,
        "guidance": 3.5,
        "loras": [{"path": "x"}],
    }
    assert parse_json_body('{"a": "\U0001f98a"}'.encode("utf-16")) == {"a": "\U0001f98a"}
