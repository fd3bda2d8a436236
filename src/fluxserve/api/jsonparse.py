"""Parsing a client's JSON body so that no input, however hostile, escapes as anything but a
400: the standard library's parser raises RecursionError on deep nesting, ValueError on
integers past Python's digit limit, and happily returns lone surrogates and NUL characters
that break later layers (UTF-8 encoding, PostgreSQL text and JSONB)."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from fluxserve.errors import InvalidRequest

MAX_DEPTH = 32
# Every number in the API fits in a few digits (seeds, sizes, steps); anything much longer
# is an attack on int() (quadratic before Python's 4300-digit guard, an error after it).
MAX_NUMBER_CHARS = 100

INVALID_JSON = "Request body must be valid JSON"
# NUL is refused by PostgreSQL text; lone surrogates cannot be encoded as UTF-8.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def parse_json_body(raw: bytes) -> Any:
    """The JSON value in `raw` (UTF-8, UTF-16 or UTF-32 as RFC 8259 allows detecting).

    Raises InvalidRequest, and nothing else, for an empty body, malformed JSON, nesting deeper
    than MAX_DEPTH, a number longer than MAX_NUMBER_CHARS or not finite, NaN/Infinity, or a
    string (or object key) holding NUL or a lone surrogate."""
    if not raw.strip():
        raise InvalidRequest("Request body is required (JSON)")
    try:
        text = raw.decode(json.detect_encoding(raw))
        value = json.loads(
            text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_refuse_constant
        )
    except (json.JSONDecodeError, UnicodeDecodeError, LookupError):
        raise InvalidRequest(INVALID_JSON) from None
    except RecursionError:
        raise _too_deep() from None
    _check_tree(value)
    return value


def _parse_int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise InvalidRequest(f"{INVALID_JSON}: a number has more than {MAX_NUMBER_CHARS} digits")
    return int(text)


def _parse_float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise InvalidRequest(f"{INVALID_JSON}: a number has more than {MAX_NUMBER_CHARS} digits")
    value = float(text)
    if not math.isfinite(value):
        raise InvalidRequest(f"{INVALID_JSON}: a number is out of range")
    return value


def _refuse_constant(text: str) -> Any:
    raise InvalidRequest(f"{INVALID_JSON}: {text} is not a JSON value")


def _too_deep() -> InvalidRequest:
    return InvalidRequest(f"{INVALID_JSON}: nested deeper than {MAX_DEPTH} levels")


def _check_tree(value: Any) -> None:
    """Depth and string checks without recursion, so the check itself cannot overflow."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            _check_string(node)
        elif isinstance(node, dict | list):
            if depth > MAX_DEPTH:
                raise _too_deep()
            if isinstance(node, dict):
                for key in node:
                    _check_string(key)
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)


def _check_string(text: str) -> None:
    found = _UNSTORABLE.search(text)
    if found is None:
        return
    if found.group() == "\x00":
        raise InvalidRequest("Strings in the request body must not contain NUL (\\u0000)")
    raise InvalidRequest("Strings in the request body must not contain lone UTF-16 surrogates")
