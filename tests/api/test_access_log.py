"""The access log: fluxserve writes the line uvicorn writes, for less work (`api/access_log.py`)."""

from __future__ import annotations

import logging
import logging.config
import re
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from uvicorn.config import LOGGING_CONFIG
from uvicorn.logging import AccessFormatter

from fluxserve.api.access_log import AccessLineFormatter, log_config
from tests.api.conftest import Api

UVICORN_FORMAT = LOGGING_CONFIG["formatters"]["access"]["fmt"]


def _record(
    status: int, *, level: int = logging.INFO, path: str = "/v2/x?y=1"
) -> logging.LogRecord:
    return logging.LogRecord(
        "uvicorn.access",
        level,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:50123", "POST", path, "1.1", status),
        None,
    )


@pytest.mark.parametrize("status", [101, 200, 202, 304, 400, 402, 404, 429, 500, 503, 599])
@pytest.mark.parametrize("level", [logging.DEBUG, logging.INFO, logging.WARNING, logging.CRITICAL])
def test_the_line_is_uvicorns_line(status: int, level: int) -> None:
    record = _record(status, level=level, path="/flux-dev/v1/dev/textToImage?é=1")
    ours = AccessLineFormatter(use_colors=False).format(record)
    assert ours == AccessFormatter(fmt=UVICORN_FORMAT, use_colors=False).format(record)
    assert ours.startswith(f"{logging.getLevelName(level)}:")


def test_on_a_terminal_uvicorn_colours_it() -> None:
    record = _record(202)
    ours = AccessLineFormatter(use_colors=True).format(record)
    assert ours == AccessFormatter(fmt=UVICORN_FORMAT, use_colors=True).format(record)
    assert "\x1b[" in ours


def test_the_configuration_is_uvicorns_but_for_the_access_formatter() -> None:
    config = log_config()
    assert config["formatters"]["access"] == {"()": "fluxserve.api.access_log.AccessLineFormatter"}
    assert {k: v for k, v in config.items() if k != "formatters"} == {
        k: v for k, v in LOGGING_CONFIG.items() if k != "formatters"
    }
    assert LOGGING_CONFIG["formatters"]["access"]["fmt"] == UVICORN_FORMAT  # not changed in place


@pytest.fixture
def uvicorn_loggers() -> Iterator[list[logging.Logger]]:
    """uvicorn's loggers, put back as they were after the test configures them."""
    loggers = [logging.getLogger(name) for name in ("uvicorn", "uvicorn.error", "uvicorn.access")]
    saved = [(lg.handlers[:], lg.level, lg.propagate) for lg in loggers]
    yield loggers
    for lg, (handlers, level, propagate) in zip(loggers, saved, strict=True):
        lg.handlers[:], lg.level, lg.propagate = handlers, level, propagate


def test_uvicorn_configured_so_writes_the_access_log_with_it(
    uvicorn_loggers: list[logging.Logger],
) -> None:
    config = log_config()
    config["formatters"]["access"]["use_colors"] = False  # as uvicorn adds it from its options
    logging.config.dictConfig(config)
    (handler,) = logging.getLogger("uvicorn.access").handlers
    assert isinstance(handler.formatter, AccessLineFormatter)
    assert handler.formatter.use_colors is False


def test_a_served_request_is_logged(api: Api) -> None:
    probe = uuid.uuid4().hex
    assert httpx.get(f"{api.url}/health?probe={probe}", timeout=30).status_code == 200
    line = re.compile(
        rf'^INFO: {{5}}127\.0\.0\.1:\d+ - "GET /health\?probe={probe} HTTP/1\.1" 200 OK$', re.M
    )
    deadline = time.monotonic() + 60
    while not line.search(api.server.logs()):  # written by the server's process, maybe later
        assert time.monotonic() < deadline, api.server.logs()[-3000:]
        time.sleep(0.05)
