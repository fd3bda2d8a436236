"""What a worker node's stop relies on: retention sweeps on a thread of their own (a stop never
waits for one), and a last resort when the rest of a shutdown hangs."""

from __future__ import annotations

import logging
import os
import threading

from fluxserve.worker.retention import RetentionSweeper

log = logging.getLogger("fluxserve.worker")

# After the drain has handed back every unfinished job, what is left of a shutdown (webhook
# deliveries in flight, closing the engine and the database) gets this long.
STOP_GRACE_S = 30.0


class RetentionThread:
    """`sweeper.sweep()` now and every `interval_s`, on a daemon thread, until `stop()`."""

    def __init__(self, sweeper: RetentionSweeper, interval_s: float) -> None:
        self._sweeper = sweeper
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="retention", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Ask for no more sweeps; a sweep under way is not waited for."""
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._sweeper.sweep()
            except Exception:
                log.exception("retention sweep failed")
            self._stop.wait(self._interval_s)


def exit_if_stuck(grace_s: float) -> None:
    """Exit the process in `grace_s` unless it has ended by then. Called once the node's jobs
    are handed back, so that nothing is lost by it; the exit status stays 0."""

    def give_up() -> None:
        log.error("shutdown did not finish within %.0f s of the drain; exiting now", grace_s)
        logging.shutdown()
        os._exit(0)

    timer = threading.Timer(grace_s, give_up)
    timer.daemon = True
    timer.start()
