"""The engine in a child process, so a crash there (CUDA fault, OOM kill) never takes the worker
down with it. Torch-free on this side: only the child imports `LocalEngine`.

Parent and child exchange small typed messages over a `multiprocessing` pipe: requests
(`_Generate`, `_GenerateMany`, `_Train`, `_Statuses`, `_Close`), then zero or more `Progress`
and `_Log` messages, then one reply (`_Images`, `_Trained`, `_StatusList`, or `_Failed`
carrying the domain error).
Images travel as raw pixels. If the child dies during a call, the call raises `EngineFailure` and
the next call starts a fresh child.

A cancelled call stops through a flag in shared memory, not the pipe: the child reads it at
every step without waiting for anything, and the pipe keeps its strict request/reply order."""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import signal
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from PIL import Image

from fluxserve.engine.boundary.interface import ProgressCallback, StopSignal
from fluxserve.engine.boundary.messages import (
    GenerateTask,
    ModelStatus,
    Progress,
    TrainResult,
    TrainTask,
)
from fluxserve.engine.boundary.raw_images import RawImage, from_raw, to_raw
from fluxserve.engine.boundary.turn import STOP_CHECK_S, engine_turn
from fluxserve.errors import (
    Cancelled,
    EngineFailure,
    FluxServeError,
    InvalidRequest,
    ModelNotFound,
)
from fluxserve.settings import Settings

logger = logging.getLogger("fluxserve.engine")

_CLOSE_TIMEOUT_S = 30.0
_BUSY_CLOSE_WAIT_S = 2.0
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class _Generate:
    task: GenerateTask
    with_progress: bool


@dataclass(frozen=True)
class _GenerateMany:
    tasks: tuple[GenerateTask, ...]


@dataclass(frozen=True)
class _Train:
    task: TrainTask
    with_progress: bool


@dataclass(frozen=True)
class _Trained:
    result: TrainResult


@dataclass(frozen=True)
class _Statuses:
    pass


@dataclass(frozen=True)
class _Close:
    pass


@dataclass(frozen=True)
class _Ready:
    pass


@dataclass(frozen=True)
class _Images:
    images: tuple[tuple[RawImage, ...], ...]  # raw pixels, per task


@dataclass(frozen=True)
class _StatusList:
    statuses: tuple[ModelStatus, ...]


@dataclass(frozen=True)
class _Failed:
    """A domain error raised in the child, rebuilt in the parent."""

    kind: str
    message: str
    model_id: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class _Log:
    name: str
    level: int
    message: str


class ProcessEngine:
    """`Engine` running a `LocalEngine` in a spawned child process. Calls run one at a time."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._context = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        # Non-zero: the call in progress must stop (calls run one at a time, each resets it).
        self._stop_flag = self._context.Value("b", 0, lock=False)
        with self._lock:
            self._ensure_started()

    @property
    def pid(self) -> int | None:
        """The child's process id (None while no child runs)."""
        process = self._process
        return process.pid if process is not None and process.is_alive() else None

    def generate(
        self,
        task: GenerateTask,
        progress: ProgressCallback | None = None,
        stop: StopSignal | None = None,
    ) -> list[Image.Image]:
        reply = self._call(_Generate(task, progress is not None), progress, stop)
        return [from_raw(raw) for raw in _expect(reply, _Images).images[0]]

    def generate_many(self, tasks: Sequence[GenerateTask]) -> list[list[Image.Image]]:
        reply = self._call(_GenerateMany(tuple(tasks)), None)
        return [[from_raw(raw) for raw in row] for row in _expect(reply, _Images).images]

    def train(
        self,
        task: TrainTask,
        progress: ProgressCallback | None = None,
        stop: StopSignal | None = None,
    ) -> TrainResult:
        reply = self._call(_Train(task, progress is not None), progress, stop)
        result: TrainResult = _expect(reply, _Trained).result
        return result

    def statuses(self) -> list[ModelStatus]:
        return list(_expect(self._call(_Statuses(), None), _StatusList).statuses)

    def close(self) -> None:
        """Ask the child to release everything and exit; kill it if it does not, or if a call
        still holds it (a node stopping mid-job has handed that job back already)."""
        if not self._lock.acquire(timeout=_BUSY_CLOSE_WAIT_S):
            process = self._process
            if process is not None and process.is_alive():
                logger.warning("engine busy at shutdown: stopping it mid-call")
                process.kill()
            self._lock.acquire()
        try:
            process, conn = self._process, self._conn
            if process is None or conn is None:
                return
            try:
                conn.send(_Close())
            except OSError:
                logger.debug("engine process already gone")
            process.join(_CLOSE_TIMEOUT_S)
            self._stop()
        finally:
            self._lock.release()

    def _call(
        self, request: object, progress: ProgressCallback | None, stop: StopSignal | None = None
    ) -> object:
        with engine_turn(self._lock, stop):
            conn = self._ensure_started()
            self._stop_flag.value = 0
            try:
                conn.send(request)
                return self._await_reply(progress, stop)
            except FluxServeError:
                raise
            except BaseException as exc:
                # The child died, or this side gave up mid-call: the pipe may still hold a
                # stale reply, so the child goes and the next call starts a fresh one.
                code = self._stop()
                if isinstance(exc, (EOFError, OSError)):
                    raise EngineFailure(
                        f"The engine process died during the call (exit code {code})"
                    ) from exc
                raise

    def _ensure_started(self) -> Connection:
        if self._process is not None and self._process.is_alive() and self._conn is not None:
            return self._conn
        self._stop()
        parent_conn, child_conn = self._context.Pipe()
        process = self._context.Process(
            target=_child_main,
            args=(
                child_conn,
                self._settings,
                logging.getLogger("fluxserve").getEffectiveLevel(),
                self._stop_flag,
            ),
            name="fluxserve-engine",
            daemon=True,
        )
        process.start()
        child_conn.close()
        self._process, self._conn = process, parent_conn
        try:
            _expect(self._await_reply(None), _Ready)
        except FluxServeError as exc:
            self._stop()
            raise EngineFailure(f"The engine process failed to start: {exc.message}") from exc
        except (EOFError, OSError) as exc:
            code = self._stop()
            raise EngineFailure(f"The engine process failed to start (exit code {code})") from exc
        logger.info("engine process %s started", process.pid)
        return parent_conn

    def _await_reply(
        self, progress: ProgressCallback | None, stop: StopSignal | None = None
    ) -> object:
        conn, process = self._conn, self._process
        assert conn is not None and process is not None
        while True:
            ready = wait([conn, process.sentinel], None if stop is None else STOP_CHECK_S)
            if stop is not None and stop.is_set():
                self._stop_flag.value = 1
            if not ready:
                continue
            if conn not in ready and not conn.poll():
                raise EOFError("engine process exited")
            message = conn.recv()
            if isinstance(message, Progress):
                _report(progress, message)
            elif isinstance(message, _Log):
                logging.getLogger(message.name).log(message.level, "%s", message.message)
            elif isinstance(message, _Failed):
                raise _rebuild(message)
            else:
                return message

    def _stop(self) -> int | None:
        """Make sure no child runs; its exit code if there was one."""
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if conn is not None:
            conn.close()
        if process is None:
            return None
        if process.is_alive():
            process.kill()
        process.join()
        return process.exitcode


def _report(progress: ProgressCallback | None, message: Progress) -> None:
    if progress is None:
        return
    try:
        progress(message)
    except Exception:
        # A broken observer must not break the call (or the pipe's message order).
        logger.exception("progress callback failed")


def _expect(reply: object, kind: type[Any]) -> Any:
    if not isinstance(reply, kind):
        raise EngineFailure(
            f"The engine process replied {type(reply).__name__}, not {kind.__name__}"
        )
    return reply


def _rebuild(failed: _Failed) -> FluxServeError:
    if failed.kind == "Cancelled":
        return Cancelled(failed.message)
    if failed.kind == "ModelNotFound" and failed.model_id is not None:
        return ModelNotFound(failed.model_id, failed.reason)
    if failed.kind == "InvalidRequest":
        return InvalidRequest(failed.message)
    return EngineFailure(failed.message)


def _failed(exc: BaseException) -> _Failed:
    if isinstance(exc, ModelNotFound):
        return _Failed("ModelNotFound", exc.message, exc.model_id, exc.reason)
    if isinstance(exc, InvalidRequest):
        return _Failed("InvalidRequest", exc.message)
    if isinstance(exc, Cancelled):
        return _Failed("Cancelled", exc.message)
    if isinstance(exc, FluxServeError):
        return _Failed("EngineFailure", exc.message)
    return _Failed("EngineFailure", f"{type(exc).__name__}: {exc}")


class _Sender:
    """The child's end of the pipe for writing, from any thread: the main thread sends replies,
    the engine's thread progress and log records (a pipe is not thread-safe by itself)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()

    def __call__(self, message: object) -> None:
        with self._lock:
            self._conn.send(message)


class _PipeLogHandler(logging.Handler):
    """Sends the child's log records to the parent, which logs them with its own handlers."""

    def __init__(self, send: _Sender) -> None:
        super().__init__()
        self._send = send

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._send(_Log(record.name, record.levelno, record.getMessage()))
        except Exception:
            self.handleError(record)


def _die_with_parent() -> None:
    """On Linux, have the kernel kill this process when its parent dies (even by kill -9), so
    an orphaned engine never keeps a GPU busy with work nobody will collect."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        logger.debug("prctl(PR_SET_PDEATHSIG) unavailable")


class _SharedStop:
    """The child's view of the parent's stop flag."""

    def __init__(self, flag: Any) -> None:
        self._flag = flag

    def is_set(self) -> bool:
        return bool(self._flag.value)


def _child_main(conn: Connection, settings: Settings, log_level: int, stop_flag: Any) -> None:
    """The child process: serve requests from `conn` until told to close or the pipe breaks."""
    _die_with_parent()
    send = _Sender(conn)
    package_logger = logging.getLogger("fluxserve")
    package_logger.addHandler(_PipeLogHandler(send))
    package_logger.setLevel(log_level)
    package_logger.propagate = False
    from fluxserve.engine.inference.local_engine import LocalEngine
    from fluxserve.engine.inference.pipeline_call import is_device_fault

    try:
        engine = LocalEngine(settings)
    except BaseException as exc:
        send(_failed(exc))
        return
    send(_Ready())
    while True:
        try:
            request = conn.recv()
        except EOFError:
            break
        if isinstance(request, _Close):
            engine.close()
            break
        try:
            send(_serve(engine, request, send, _SharedStop(stop_flag)))
        except Exception as exc:
            send(_failed(exc))
            if is_device_fault(exc):
                # The CUDA context is gone for good: exit so the next call starts afresh.
                logging.getLogger("fluxserve.engine").error("device fault, engine process exits")
                break


def _serve(engine: Any, request: object, send: _Sender, stop: _SharedStop) -> object:
    if isinstance(request, _Generate):
        progress = send if request.with_progress else None
        images = engine.generate(request.task, progress, stop)
        return _Images((tuple(to_raw(i) for i in images),))
    if isinstance(request, _GenerateMany):
        rows = engine.generate_many(request.tasks)
        return _Images(tuple(tuple(to_raw(i) for i in row) for row in rows))
    if isinstance(request, _Train):
        progress = send if request.with_progress else None
        return _Trained(engine.train(request.task, progress, stop))
    if isinstance(request, _Statuses):
        return _StatusList(tuple(engine.statuses()))
    return _Failed("EngineFailure", f"unknown request {type(request).__name__}")
