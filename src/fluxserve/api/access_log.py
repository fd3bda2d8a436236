"""uvicorn's access log, the same line for less work.

uvicorn's access formatter copies every record twice and looks the status phrase up through
`http.HTTPStatus` for each line; on a small submit that was a twentieth of the request's CPU.
The formatter below writes the line uvicorn writes (`INFO:     127.0.0.1:50000 - "POST /path
HTTP/1.1" 202 Accepted`) from the record's arguments directly. On a terminal it leaves the
line to uvicorn, which colours it."""

from __future__ import annotations

import copy
import http
import logging
from typing import Any

from uvicorn.config import LOGGING_CONFIG
from uvicorn.logging import AccessFormatter

_STATUS_LINES = {int(status): f"{int(status)} {status.phrase}" for status in http.HTTPStatus}


class AccessLineFormatter(AccessFormatter):
    """`%(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s`, uvicorn's own
    access format, which is the only one it takes."""

    def __init__(self, use_colors: bool | None = None) -> None:
        super().__init__(fmt=LOGGING_CONFIG["formatters"]["access"]["fmt"], use_colors=use_colors)

    def formatMessage(self, record: logging.LogRecord) -> str:
        if self.use_colors or not isinstance(record.args, tuple) or len(record.args) != 5:
            return super().formatMessage(record)
        client_addr, method, full_path, http_version, status_code = record.args
        code = int(status_code)  # type: ignore[call-overload]
        status = _STATUS_LINES.get(code) or f"{code} "
        prefix = f"{record.levelname}:".ljust(9)
        return f'{prefix} {client_addr} - "{method} {full_path} HTTP/{http_version}" {status}'


def log_config() -> dict[str, Any]:
    """uvicorn's logging configuration with the access formatter above."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["access"] = {"()": f"{__name__}.AccessLineFormatter"}
    return config
