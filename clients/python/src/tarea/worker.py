"""The worker SDK: run app code as tarea jobs, through the external-worker API.

>>> worker = tarea.Worker(client, queues=["app"], concurrency=4)
>>> @worker.task("protocols.set_status")
... def set_status(job):
...     protocol = Protocol.objects.get(pk=job.payload["protocolo"])
...     protocol.status = job.payload["estado"]
...     protocol.save()
...     job.progress(percent=100, step="Guardado")
...     return {"ok": True}
>>> worker.run()       # until SIGTERM or SIGINT: finishes what runs, then returns

Each claimed job runs in a thread of the pool. A heartbeat thread renews the leases of the
running jobs every third of the lease; when the server answers that a job's attempt is no
longer current (it was cancelled, or its lease was given to another worker), the job's
``cancelled`` flag is set for the task to see, and its result is not reported. A task that
raises fails its job with a retryable error (``tarea.Fatal`` for one that is not).
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from . import _calls as calls
from ._client import Client
from ._errors import ApiError, Fatal

log = logging.getLogger("tarea.worker")

Task = Callable[["WorkerJob"], Any]


class WorkerJob:
    """A claimed job, as a task sees it."""

    def __init__(self, worker: "Worker", raw: dict[str, Any]) -> None:
        self._worker = worker
        self.id: str = raw["id"]
        self.kind: str = raw["kind"]
        self.queue: str = raw.get("queue", "")
        self.attempt: int = raw["attempt"]
        self.payload: Any = raw.get("payload")
        self._cancelled = threading.Event()

    @property
    def cancelled(self) -> bool:
        """True once the job was cancelled (or its lease lost): stop and return."""
        return self._cancelled.is_set() or self._worker._stopping_hard.is_set()

    def progress(self, percent: float | None = None, step: str | None = None,
                 current: int | None = None, total: int | None = None) -> None:
        """Reports progress (shown in the job view and its live events)."""
        try:
            self._worker._client._send(calls.progress(self.id, self.attempt, percent=percent, step=step,
                                                      current=current, total=total))
        except ApiError as e:
            if e.code == "stale_attempt":
                self._cancelled.set()
            else:
                raise


class Worker:
    """Runs tasks for the kinds registered with ``@worker.task``, claimed from ``queues``."""

    def __init__(self, client: Client, queues: list[str] | None = None, *, concurrency: int = 4,
                 lease_ms: int = 30_000, name: str | None = None, poll_wait_ms: int = 5_000) -> None:
        self._client = client
        self.queues = queues or ["default"]
        self.concurrency = concurrency
        self.lease_ms = lease_ms
        self.name = name or f"{socket.gethostname()}-{os.getpid()}"
        self.poll_wait_ms = poll_wait_ms
        self._tasks: dict[str, Task] = {}
        self._running: dict[str, WorkerJob] = {}
        self._lock = threading.Lock()
        self._free = threading.Semaphore(concurrency)
        self._stopping = threading.Event()
        self._stopping_hard = threading.Event()

    def task(self, kind: str) -> Callable[[Task], Task]:
        """Registers a function as the task of ``kind``."""

        def register(fn: Task) -> Task:
            self._tasks[kind] = fn
            return fn

        return register

    def stop(self, hard: bool = False) -> None:
        """Stops claiming; running tasks finish (``hard``: they are told to stop, and their
        jobs are given back to the queue by their lease running out)."""
        self._stopping.set()
        if hard:
            self._stopping_hard.set()

    def run(self, install_signals: bool = True) -> None:
        """Claims and runs jobs until stopped (SIGTERM or SIGINT, when ``install_signals``)."""
        if not self._tasks:
            raise ValueError("register a task with @worker.task(kind) first")
        if install_signals and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: self.stop())
        beats = threading.Thread(target=self._heartbeats, name="tarea-heartbeats", daemon=True)
        beats.start()
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="tarea-task") as pool:
            while not self._stopping.is_set():
                free = self._take_free_slots()
                if free == 0:
                    continue
                try:
                    claimed = self._client._send(
                        calls.claim(self.queues, sorted(self._tasks), free, self.poll_wait_ms, self.lease_ms, self.name),
                        timeout=self.poll_wait_ms / 1000 + 30,
                    )["jobs"]
                except Exception as e:  # the server restarting, a network blip: try again soon
                    log.warning("claim failed: %s", e)
                    claimed = []
                    self._stopping.wait(1.0)
                for _ in range(free - len(claimed)):
                    self._free.release()
                for raw in claimed:
                    job = WorkerJob(self, raw)
                    with self._lock:
                        self._running[job.id] = job
                    pool.submit(self._run_one, job)
        log.info("worker %s stopped", self.name)

    def _take_free_slots(self) -> int:
        if not self._free.acquire(timeout=0.5):
            return 0
        n = 1
        while n < self.concurrency and self._free.acquire(blocking=False):
            n += 1
        return n

    def _run_one(self, job: WorkerJob) -> None:
        try:
            result = self._tasks[job.kind](job)
            if not job._cancelled.is_set():
                self._report(calls.complete(job.id, job.attempt, result))
        except Fatal as e:
            self._report(calls.fail(job.id, job.attempt, e.code, e.message, e.details, retryable=False))
        except Exception as e:
            details = {"exception": type(e).__name__, "traceback": traceback.format_exc()[-4000:]}
            self._report(calls.fail(job.id, job.attempt, "exception", str(e) or type(e).__name__, details, retryable=True))
        finally:
            with self._lock:
                self._running.pop(job.id, None)
            self._free.release()

    def _report(self, call: calls.Call) -> None:
        try:
            self._client._send(call)
        except ApiError as e:
            if e.code != "stale_attempt":  # cancelled or reclaimed meanwhile: nothing to report
                log.error("reporting %s failed: %s", call.path, e)
        except Exception as e:
            log.error("reporting %s failed: %s", call.path, e)

    def _heartbeats(self) -> None:
        every = self.lease_ms / 3000
        while not self._stopping_hard.wait(every):
            with self._lock:
                running = list(self._running.values())
            for job in running:
                try:
                    self._client._send(calls.heartbeat(job.id, job.attempt, self.lease_ms))
                except ApiError as e:
                    if e.code in ("stale_attempt", "not_found"):
                        job._cancelled.set()
                except Exception as e:
                    log.warning("heartbeat of %s failed: %s", job.id, e)
            if self._stopping.is_set() and not running:
                return
