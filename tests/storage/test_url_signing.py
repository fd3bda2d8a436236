"""Signed media links on a clock the test moves: good until their expiry, then refused;
never good for another folder, another expiry or another secret."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fluxserve.errors import Forbidden, MediaLinkExpired
from fluxserve.storage.local import LocalStorage
from fluxserve.storage.url_signing import SECRET_FILE, UrlSigner, load_secret

KEY = "outputs/req1/att1/output-0.png"


def _split(url: str) -> tuple[str, str, str]:
    expires, sig, key = url.split("/media/s/", 1)[1].split("/", 2)
    return expires, sig, key


def test_a_link_lives_exactly_its_lifetime(tmp_path: Path) -> None:
    now = [datetime(2026, 12, 2, 9, 0, 0, 500_000, tzinfo=UTC)]
    signer = UrlSigner(b"secret", 3600, clock=lambda: now[0])
    storage = LocalStorage(tmp_path, "http://node", signer)
    expires_at = storage.url_expires_at()
    expires, sig, key = _split(storage.url_for(KEY))
    assert key == KEY and expires_at == datetime(2026, 12, 2, 10, 0, 0, tzinfo=UTC)
    assert int(expires) == expires_at.timestamp()

    now[0] = expires_at - timedelta(milliseconds=1)
    storage.check_link(KEY, expires, sig)
    # The sidecar beside it shares the folder, so its relative link is as good.
    storage.check_link("outputs/req1/att1/lora.json", expires, sig)
    now[0] = expires_at
    with pytest.raises(MediaLinkExpired):
        storage.check_link(KEY, expires, sig)


def test_altered_links_are_forbidden(tmp_path: Path) -> None:
    signer = UrlSigner(b"secret", 3600)
    expires, sig, _ = _split(LocalStorage(tmp_path, "http://node", signer).url_for(KEY))
    for key, exp, signature in (
        ("outputs/req2/att1/output-0.png", expires, sig),
        (KEY, str(int(expires) + 1), sig),
        (KEY, expires, sig[:-1] + ("0" if sig[-1] != "0" else "1")),
        (KEY, "soon", sig),
        (KEY, None, None),
    ):
        with pytest.raises(Forbidden):
            signer.check(key, exp, signature)
    with pytest.raises(Forbidden):
        UrlSigner(b"another secret", 3600).check(KEY, expires, sig)


def test_the_secret_is_made_once_and_kept(tmp_path: Path) -> None:
    first = load_secret(None, tmp_path)
    assert len(first) == 64 and load_secret(None, tmp_path) == first
    assert (tmp_path / SECRET_FILE).stat().st_mode & 0o077 == 0  # readable by the owner only
    assert load_secret("configured", tmp_path) == b"configured"
