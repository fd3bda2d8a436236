"""Output URLs that expire on purpose: `/media/s/<expires>/<sig>/<key>`.

The signature (HMAC-SHA256) covers the expiry (epoch seconds) and the key's folder, so neither
can be changed; an expired link is refused and the owner asks the status route for a fresh
one. It sits in the path, not the query, so a URL still ends in its file name, and a relative
name beside it (a LoRA's sidecar names "lora.safetensors") resolves to a link as good as it.
The HMAC key comes from the settings or, unset, from a file made once in the data folder (so
a restart keeps links valid)."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from fluxserve.db.clock import Clock, checked
from fluxserve.errors import Forbidden, MediaLinkExpired

SECRET_FILE = "media-url.key"
SIGNED_PREFIX = "s"
_SECRET_BYTES = 32


class UrlSigner:
    """Signs and checks the query of an output's URL; valid `lifetime_s` from signing."""

    def __init__(self, secret: bytes, lifetime_s: int, clock: Clock | None = None) -> None:
        if not secret:
            raise ValueError("the media URL secret is empty")
        self._secret = secret
        self._lifetime_s = lifetime_s
        self._now = checked(clock)

    def expires(self) -> int:
        """The expiry (epoch seconds) of a link signed now. Whole seconds, rounded down, so
        a time taken before signing is never later than the link's own expiry."""
        return int(self._now().timestamp()) + self._lifetime_s

    def expires_at(self) -> datetime:
        return datetime.fromtimestamp(self.expires(), UTC)

    def path(self, key: str) -> str:
        """The path (below /media/) that reads `key` until `expires()`."""
        expires = self.expires()
        return f"{SIGNED_PREFIX}/{expires}/{self._signature(key, expires)}/{key}"

    def check(self, key: str, expires: str | None, sig: str | None) -> None:
        """Nothing when the link is genuine and current; Forbidden when it is not signed by
        us (or was altered), MediaLinkExpired when it was but its time is over."""
        if not expires or not sig or not expires.isdigit() or len(expires) > 12:
            raise Forbidden("This media URL is not signed", title="Forbidden")
        if not hmac.compare_digest(sig, self._signature(key, int(expires))):
            raise Forbidden("This media URL's signature is not valid", title="Forbidden")
        if int(expires) <= self._now().timestamp():
            raise MediaLinkExpired(datetime.fromtimestamp(int(expires), UTC))

    def _signature(self, key: str, expires: int) -> str:
        folder = key.rsplit("/", 1)[0]
        message = f"{folder}\n{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()


def load_secret(configured: str | None, data_dir: Path) -> bytes:
    """The configured secret, else the one kept in the data folder (made on first use)."""
    if configured:
        return configured.encode()
    path = data_dir / SECRET_FILE
    if not path.exists():
        # Written whole to a private file, then linked into place: a process starting at the
        # same time sees no file or the finished one, and the first link wins.
        handle, scratch = tempfile.mkstemp(dir=data_dir, prefix=f".{SECRET_FILE}.")
        try:
            with os.fdopen(handle, "w") as file:
                file.write(secrets.token_hex(_SECRET_BYTES))
            with contextlib.suppress(FileExistsError):
                os.link(scratch, path)
        finally:
            os.unlink(scratch)
    return path.read_text().strip().encode()
