"""Run one piece of work on a thread of its own while the caller does another, then take its
result: for work that releases the interpreter (image encoding, the image check's inference),
so that on a machine with cores to spare the two cost the longer of them, not their sum."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Beside(Generic[T]):
    """`work` started on a daemon thread at once; `result()` waits for it and returns what it
    returned, or raises what it raised."""

    def __init__(self, work: Callable[[], T], name: str = "beside") -> None:
        self._work = work
        self._value: T | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._work()
        except BaseException as exc:  # handed to the caller in result()
            self._error = exc

    def result(self) -> T:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]
