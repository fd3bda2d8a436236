"""One fluxserve server for the API tests: started through the real CLI on loopback, with
demo weights, a loopback file server for input images, and a funded key."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from fluxserve.catalog import API_MODELS
from tests.support.media import write_inputs
from tests.support.servers import FileServer, FluxServer, WebhookReceiver, create_key

FAST_STEPS = 2
OPERATOR_TOKEN = "test-operator-token"


def write_config(
    path: Path, demo_cache: Path, disabled: tuple[str, ...] = (), **top: object
) -> Path:
    """Test config: operators may lower default step counts; tests do, to stay fast."""
    lines = [f'demo_weights_dir_override = "{demo_cache}"']
    lines += [f"{k} = {v!r}".replace("'", '"') for k, v in top.items()]
    lines += ["[training]", "resolution = 64", "checkpoint_every = 500"]
    for model_id in API_MODELS:
        lines += [f'[endpoints."{model_id}"]', f"default_steps = {FAST_STEPS}"]
        if model_id in disabled:
            lines.append("enabled = false")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="session")
def demo_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("demo-weights")


@pytest.fixture(scope="session")
def files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FileServer]:
    folder = tmp_path_factory.mktemp("inputs")
    write_inputs(folder)
    server = FileServer(folder).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver().start()
    yield server
    server.stop()


@dataclass
class Api:
    server: FluxServer
    key: str

    @property
    def url(self) -> str:
        return self.server.url

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "Cache-Control": "no-cache",
            "Ocp-Apim-Subscription-Key": key or self.key,
        }


@pytest.fixture(scope="session")
def api(tmp_path_factory: pytest.TempPathFactory, demo_cache_dir: Path) -> Iterator[Api]:
    data_dir = tmp_path_factory.mktemp("fluxserve-data")
    config = write_config(
        data_dir / "config.toml",
        demo_cache_dir,
        rate_limit_per_minute=1000,
        operator_token=OPERATOR_TOKEN,
    )
    key = create_key(data_dir, credit="1000")
    server = FluxServer(data_dir, config=config).start()
    yield Api(server, key)
    server.stop()
