"""`fluxserve serve --api-processes N`: N API processes on one port, one engine.

This process binds the listening socket, starts N API processes that all accept on it (the
kernel hands each new connection to one of them), and then runs the workers and the engine
itself, once, exactly like `fluxserve worker`. The API processes run `--no-workers` against the
same database (SQLite in WAL mode takes several processes; PostgreSQL anything). SIGINT or
SIGTERM to this process drains the workers, then stops the API processes."""

from __future__ import annotations

import logging
import multiprocessing
import signal
import socket
import threading
from multiprocessing.process import BaseProcess

from fluxserve.settings import Settings

log = logging.getLogger("fluxserve")

STOP_WAIT_S = 30.0  # each API process's own shutdown is bounded by its keep-alive and requests


def bind_listener(settings: Settings) -> socket.socket:
    """The listening socket every API process accepts on."""
    import uvicorn

    config = uvicorn.Config(app="fluxserve", host=settings.host, port=settings.port)
    sock: socket.socket = config.bind_socket()
    return sock


def run_api_process(settings: Settings, sock: socket.socket) -> None:
    """One API process (the target of each child): `serve --no-workers` on the shared socket."""
    import uvicorn

    from fluxserve.api.connguard import uvicorn_options
    from fluxserve.cli.common import setup_logging
    from fluxserve.server import Service, create_service_app

    setup_logging()
    service = Service.build(settings, with_engine=False)
    try:
        app = create_service_app(service, run_workers=False)
        config = uvicorn.Config(app, log_level="info", **uvicorn_options(settings))
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        service.close()


class ApiProcesses:
    """The N API processes, started from a fresh interpreter each (no engine, no torch)."""

    def __init__(self, settings: Settings, count: int) -> None:
        self._settings = settings
        self._count = count
        self._processes: list[BaseProcess] = []

    def start(self) -> None:
        sock = bind_listener(self._settings)
        context = multiprocessing.get_context("spawn")
        for index in range(self._count):
            process = context.Process(
                target=run_api_process,
                args=(self._settings, sock),
                name=f"fluxserve-api-{index}",
            )
            process.start()
            self._processes.append(process)
        sock.close()  # the children hold it now
        log.info(
            "%d API processes on http://%s:%d",
            self._count,
            self._settings.host,
            self._settings.port,
        )

    def stop(self) -> None:
        """SIGTERM each (uvicorn finishes the requests in flight), then wait for them."""
        for process in self._processes:
            if process.is_alive():
                process.terminate()
        for process in self._processes:
            process.join(STOP_WAIT_S)
            if process.is_alive():
                process.kill()
                process.join()


def wait_for_signal() -> None:
    """Block until SIGINT or SIGTERM (for `--no-workers`, where this process has no workers
    to run)."""
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
