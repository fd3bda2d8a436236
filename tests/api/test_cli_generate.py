"""`fluxserve generate` as a user runs it: an image saved where asked, and a clear sentence
(exit 1) for a refused key, an empty wallet, moderation and rate limiting."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from PIL import Image

from tests.api.conftest import Api
from tests.support.servers import create_key
from tests.support.throttled import ThrottledServer


def _generate(*args: str, url: str, key: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fluxserve", "generate", *args, "--url", url, "--key", key],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "200"},
    )


def test_generate_saves_the_image(api: Api, tmp_path: Path) -> None:
    out = tmp_path / "out.png"
    done = _generate(
        "a red bicycle", "--model", "flux-dev", "--size", "256x192", "--seed", "7",
        "-p", "output_format=png", "-o", str(out), url=api.url, key=api.key,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"saved {out} (seed 7)" in done.stderr
    with Image.open(out) as image:
        assert (image.format, image.size) == ("PNG", (256, 192))


def test_generate_on_a_width_height_route(api: Api, tmp_path: Path) -> None:
    out = tmp_path / "schnell.png"
    done = _generate(
        "a cat", "--model", "flux-1-schnell", "--size", "256x256", "-o", str(out),
        url=api.url, key=api.key,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with Image.open(out) as image:
        assert image.size == (256, 256)


def test_clear_messages(api: Api, tmp_path: Path) -> None:
    out = str(tmp_path / "x.png")
    refused = _generate("x", "-o", out, url=api.url, key="fs_wrong")
    assert refused.returncode == 1 and "refused the API key (401)" in refused.stderr
    broke = create_key(api.server.data_dir, credit="0", name="cli-broke")
    poor = _generate("x", "--size", "256x256", "-o", out, url=api.url, key=broke)
    assert poor.returncode == 1 and "insufficient balance (402)" in poor.stderr
    blocked = _generate(
        "a photo of porn on a studio set", "--size", "256x256", "-o", out,
        url=api.url, key=api.key,
    )  # fmt: skip
    assert blocked.returncode == 1 and "refused by content moderation" in blocked.stderr
    assert not Path(out).exists()


def test_rate_limited_message() -> None:
    server = ThrottledServer(refusals=99, retry_after="0").start()
    try:
        done = _generate("x", "--model", "/flux-dev/v1/dev/textToImage", url=server.url, key="k")
    finally:
        server.stop()
    assert done.returncode == 1 and "rate limited (429)" in done.stderr
