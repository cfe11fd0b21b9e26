"""Runners: who executes a submitted job, behind one small interface.

* :class:`InlineRunner` executes at once in the caller's thread, retries at once, and records
  what ran in ``ran`` (like Django's locmem mail backend): for the CLI and tests.
* :class:`ThreadRunner` executes on a small pool of threads: for ``serve`` and ``worker``.
  Retries wait their delay; :meth:`run_due` (called by the scheduler every tick) starts them.

Both queue the run in ``job_runs`` first, so every process sees it and its progress. Which one
``serve`` and ``worker`` use is the setting ``MAILMATCH_JOB_RUNNER`` (``threads`` or
``inline``), the way Django picks a mail backend; a queue runner (Dramatiq) plugs in here and
calls the same :class:`~mailmatch.jobs.execute.Executor` from its actor, by run id.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from dataclasses import dataclass, field
from typing import Any, Protocol

from mailmatch.config import Settings
from mailmatch.errors import ConfigError
from mailmatch.jobs import table
from mailmatch.jobs.execute import Executor
from mailmatch.jobs.model import FAILED, QUEUED, Job, Outcome, RunId
from mailmatch.jobs.registry import Registry
from mailmatch.store.db import Database
from mailmatch.sync.interrupt import stop_on_sigint

log = logging.getLogger(__name__)

RUNNERS = ("inline", "threads")


class Runner(Protocol):
    def submit(self, job: Job) -> RunId:
        """Queue ``job`` (or join the run of its key already queued or running)."""

    def run_due(self) -> list[RunId]:
        """Start the runs that are due: retries whose wait is over, runs a dead worker left."""

    def shutdown(self, *, cancel: bool = False, timeout: float | None = None) -> None:
        """Stop taking work; ``cancel`` asks running jobs to stop at their next safe point."""


@dataclass
class Ran:
    """One job the inline runner executed: its last outcome and the handler's own value."""

    job: Job
    run_id: RunId
    state: str
    value: Any = None
    error: dict[str, Any] | None = None


@dataclass
class InlineRunner:
    db: Database
    settings: Settings
    registry: Registry
    ran: list[Ran] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.executor = Executor(self.db, self.settings, self.registry)

    def submit(self, job: Job) -> RunId:
        kind = self.registry.get(job.kind)
        run = table.enqueue(self.db, job, kind.max_attempts)
        if run.state in (QUEUED, FAILED):
            self._execute(run.id, job)
        return run.id

    def run(self, run_id: RunId) -> None:
        """Execute one queued run now (``mailmatch jobs retry``)."""
        run = table.get(self.db, run_id)
        self._execute(run_id, Job(run.kind, run.args, run.key, run.workspace_id))

    def run_due(self) -> list[RunId]:
        started = []
        for run_id in table.due(self.db):
            run = table.get(self.db, run_id)
            self._execute(run_id, Job(run.kind, run.args, run.key, run.workspace_id))
            started.append(run_id)
        return started

    def shutdown(self, *, cancel: bool = False, timeout: float | None = None) -> None:
        """Nothing runs after ``submit`` returns."""

    def _execute(self, run_id: RunId, job: Job) -> None:
        """Attempts back to back until the run is done, skipped or dead. Ctrl-C (in the main
        thread) asks the job to stop at a safe point; once its run is recorded the caller
        gets ``KeyboardInterrupt``, as from any command."""
        outcome: Outcome | None = None
        with stop_on_sigint() as stop:
            while True:
                outcome = self.executor.execute(run_id, stop)
                if outcome is None or outcome.state != FAILED or stop.is_set():
                    break
        if outcome is not None:
            self.ran.append(Ran(job, run_id, outcome.state, outcome.value, outcome.error))
        if stop.is_set():
            raise KeyboardInterrupt


class ThreadRunner:
    def __init__(
        self, db: Database, settings: Settings, registry: Registry, threads: int = 4
    ) -> None:
        self.db = db
        self.registry = registry
        self.executor = Executor(db, settings, registry)
        self.stop = threading.Event()
        self._pool = ThreadPoolExecutor(max(1, threads), thread_name_prefix="job")
        self._pending: dict[RunId, Future[Any]] = {}
        self._lock = threading.Lock()

    def submit(self, job: Job) -> RunId:
        kind = self.registry.get(job.kind)
        run = table.enqueue(self.db, job, kind.max_attempts)
        if run.state == QUEUED:
            self.start(run.id)
        return run.id

    def run_due(self) -> list[RunId]:
        return [run_id for run_id in table.due(self.db) if self.start(run_id)]

    def start(self, run_id: RunId) -> bool:
        """Execute a queued run on the pool unless it is pending here already."""
        with self._lock:
            if run_id in self._pending or self.stop.is_set():
                return False
            future = self._pool.submit(self._work, run_id)
            self._pending[run_id] = future
        return True

    def _work(self, run_id: RunId) -> None:
        try:
            self.executor.execute(run_id, self.stop)
        except Exception:
            log.exception("job run %s could not be executed", run_id)
        finally:
            with self._lock:
                self._pending.pop(run_id, None)

    def wait(self, timeout: float | None = None) -> bool:
        """For tests and shutdown: block until nothing is pending; False on timeout."""
        with self._lock:
            futures = list(self._pending.values())
        _done, not_done = wait_for(futures, timeout)
        return not not_done

    def shutdown(self, *, cancel: bool = False, timeout: float | None = None) -> None:
        if cancel:
            self.stop.set()
        self.wait(timeout)
        self.stop.set()
        self._pool.shutdown(wait=False, cancel_futures=True)


def make_runner(settings: Settings, db: Database, registry: Registry) -> Runner:
    """The runner the settings name (``MAILMATCH_JOB_RUNNER``), for ``serve`` and ``worker``."""
    if settings.job_runner == "inline":
        return InlineRunner(db, settings, registry)
    if settings.job_runner == "threads":
        return ThreadRunner(db, settings, registry, settings.job_threads)
    raise ConfigError(
        f"MAILMATCH_JOB_RUNNER={settings.job_runner!r} is not a runner",
        advice=[f"one of: {', '.join(RUNNERS)}"],
    )
