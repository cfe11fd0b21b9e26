"""Execute one queued run: take its key's lease, claim it, call the handler, record the end.

This is the one place a handler is called, whatever the runner: the inline runner calls
:meth:`Executor.execute` in the caller's thread, the thread runner on its pool, and a queue
worker (Dramatiq, later) from an actor that receives only the run id.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from mailmatch.config import Settings
from mailmatch.errors import MailmatchError
from mailmatch.jobs import table
from mailmatch.jobs.lease import KeyLease, new_owner
from mailmatch.jobs.model import (
    DEAD,
    DONE,
    FAILED,
    SKIPPED,
    Job,
    JobContext,
    JobSkipped,
    Outcome,
    RunId,
)
from mailmatch.jobs.registry import Registry
from mailmatch.store.db import Database

log = logging.getLogger(__name__)

PROGRESS_EVERY = 0.5  # seconds between progress writes: a row per batch would cost a write each


def to_json(value: Any) -> Any:
    """A handler's return value as JSON: its ``to_json()``, a dict/list/scalar as is."""
    method = getattr(value, "to_json", None)
    if callable(method):
        return method()
    if hasattr(value, "__dataclass_fields__"):
        return {name: getattr(value, name) for name in value.__dataclass_fields__}
    return value


def error_json(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, MailmatchError):
        return {"code": exc.code, "message": exc.message, "advice": exc.advice}
    return {"code": "internal_error", "message": repr(exc), "advice": []}


class _Progress:
    """Writes a run's progress at most every ``PROGRESS_EVERY`` seconds; ``last`` keeps the
    newest, written with the end of the run."""

    def __init__(self, db: Database, run_id: RunId) -> None:
        self.db, self.run_id = db, run_id
        self.last: dict[str, Any] | None = None
        self._written = 0.0

    def __call__(self, progress: dict[str, Any]) -> None:
        self.last = progress
        moment = time.monotonic()
        if moment - self._written >= PROGRESS_EVERY:
            self._written = moment
            table.set_progress(self.db, self.run_id, progress)


class Executor:
    def __init__(self, db: Database, settings: Settings, registry: Registry) -> None:
        self.db = db
        self.settings = settings
        self.registry = registry

    def execute(self, run_id: RunId, stop: threading.Event | None = None) -> Outcome | None:
        """Run one attempt of ``run_id``; None when another worker has it."""
        run = table.get(self.db, run_id)
        kind = self.registry.get(run.kind)
        job = Job(run.kind, run.args, run.key, run.workspace_id)
        lease = KeyLease(self.db, run.key, kind.lease_seconds, owner=new_owner())
        holder = lease.acquire()
        if holder is not None:
            error = {"code": "already_running", "message": f"{run.key} is already running "
                     f"({holder})", "advice": ["it runs once at a time; wait for it"]}  # fmt: skip
            if table.skip_queued(self.db, run_id, error):
                return Outcome(run_id, SKIPPED, error=error, job=job)
            return None
        try:
            claimed = table.claim(self.db, run_id, lease.owner, kind.lease_seconds)
            if claimed is None:
                return None
            progress = _Progress(self.db, run_id)
            ctx = JobContext(
                run_id, job, self.db, self.settings, progress, stop or threading.Event(), lease
            )
            return self._call(ctx, claimed.attempts, progress)
        finally:
            lease.release()

    def _call(self, ctx: JobContext, attempt: int, progress: _Progress) -> Outcome:
        kind = self.registry.get(ctx.job.kind)
        run_id = ctx.run_id
        try:
            value = kind.handler(ctx, ctx.job.args)
        except JobSkipped as exc:
            error = error_json(exc)
            table.finish(self.db, run_id, SKIPPED, error=error, progress=progress.last)
            return Outcome(run_id, SKIPPED, error=error, job=ctx.job)
        except Exception as exc:
            error = error_json(exc)
            log.exception("job %s (%s) failed, attempt %d", run_id, ctx.job.kind, attempt)
            if attempt >= kind.max_attempts:
                table.finish(self.db, run_id, DEAD, error=error, progress=progress.last)
                return Outcome(run_id, DEAD, error=error, job=ctx.job)
            wait = kind.retry_delay * 2 ** (attempt - 1)
            table.finish(
                self.db, run_id, FAILED, error=error, retry_in=wait, progress=progress.last
            )
            return Outcome(run_id, FAILED, error=error, job=ctx.job)
        except BaseException as exc:  # Ctrl-C, SystemExit: recorded, then passed on
            table.finish(self.db, run_id, FAILED, error=error_json(exc), progress=progress.last)
            raise
        table.finish(self.db, run_id, DONE, result=to_json(value), progress=progress.last)
        return Outcome(run_id, DONE, value=value, job=ctx.job)
