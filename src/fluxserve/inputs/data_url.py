"""`data:` URLs (RFC 2397): base64 or percent-encoded payloads."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote_to_bytes

from fluxserve.errors import InputFetchError
from fluxserve.inputs.limits import too_large_message


def decode_data_url(url: str, *, what: str, max_bytes: int) -> bytes:
    """The bytes carried by a `data:` URL; InputFetchError naming `what` when it is malformed,
    empty or larger than `max_bytes`."""
    header, comma, payload = url.partition(",")
    if not comma or not header.lower().startswith("data:"):
        raise InputFetchError(
            f"{what} is not a valid data: URL (expected data:[<type>][;base64],<data>)"
        )
    # No encoding spends more than 3 characters on a byte (%XX), so a longer payload is too
    # large before it is decoded at all.
    if len(payload) > 3 * max_bytes:
        raise InputFetchError(too_large_message(what, max_bytes))
    is_base64 = header.lower().rstrip().endswith(";base64")
    data = _decode_base64(payload, what) if is_base64 else unquote_to_bytes(payload)
    if len(data) > max_bytes:
        raise InputFetchError(too_large_message(what, max_bytes))
    if not data:
        raise InputFetchError(f"{what} is an empty data: URL")
    return data


def _decode_base64(payload: str, what: str) -> bytes:
    # Clients percent-encode '+', '/' and '=' now and then, and wrap long lines.
    text = unquote_to_bytes(payload).translate(None, b" \t\r\n")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InputFetchError(f"{what} holds invalid base64 data") from None
