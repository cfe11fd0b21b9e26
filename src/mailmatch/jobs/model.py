"""Plain data between the parts of :mod:`mailmatch.jobs`: a job, its context, a run.

A job is data only (a kind, JSON arguments, a key), so that any runner can carry it: the
inline runner calls the handler at once, the thread runner on a pool, a queue worker (Dramatiq)
in another process, each by looking the kind up in a registry.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mailmatch.config import Settings
from mailmatch.errors import MailmatchError
from mailmatch.jobs.lease import KeyLease
from mailmatch.store.db import Database

RunId = int

QUEUED, RUNNING, DONE, SKIPPED, FAILED, DEAD = (
    "queued", "running", "done", "skipped", "failed", "dead"
)  # fmt: skip
ACTIVE = (QUEUED, RUNNING, FAILED)  # a run of the key is under way or a retry is due
FINISHED = (DONE, SKIPPED, DEAD)


@dataclass(frozen=True)
class Job:
    """What to run: ``kind`` names the handler, ``args`` are its JSON arguments, ``key`` is what
    must not run twice at once and what a second submit while one is queued folds into
    (e.g. ``import:42``). ``workspace_id`` is for display and filtering only."""

    kind: str
    args: dict[str, Any]
    key: str
    workspace_id: int | None = None


class JobSkipped(MailmatchError):
    """Raised by a handler when there was nothing it should do now (a paused import, a full
    disk): the run is recorded as skipped with this code, never retried, never dead."""

    def __init__(self, code: str, message: str, *, advice: list[str] | None = None) -> None:
        super().__init__(message, advice=advice)
        self.code = code


@dataclass
class JobContext:
    """What a handler gets besides its arguments: the store, the settings, a way to report
    progress (a JSON object, written to the run's row), a stop event to end at a safe point,
    and the lease of the job's key (renew it while working, as a checkpoint)."""

    run_id: RunId
    job: Job
    db: Database
    settings: Settings
    progress: Callable[[dict[str, Any]], None]
    stop: threading.Event
    lease: KeyLease


Handler = Callable[[JobContext, dict[str, Any]], Any]


@dataclass(frozen=True)
class RunView:
    """A run as any process reads it from ``job_runs``."""

    id: RunId
    kind: str
    key: str
    args: dict[str, Any]
    workspace_id: int | None
    state: str
    attempts: int
    max_attempts: int
    progress: dict[str, Any] | None
    result: Any
    error: dict[str, Any] | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    lease_owner: str | None = None

    @property
    def active(self) -> bool:
        return self.state in (QUEUED, RUNNING)

    def seconds(self, moment: datetime) -> float | None:
        if self.started_at is None:
            return None
        return round(((self.finished_at or moment) - self.started_at).total_seconds(), 1)

    def to_json(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "id": self.id,
            "kind": self.kind,
            "key": self.key,
            "args": self.args,
            "workspace_id": self.workspace_id,
            "state": self.state,
            "attempts": self.attempts,
            "max_attempts": self.max_attempts,
            "progress": self.progress,
            "result": self.result,
            "error": self.error,
            "created_at": iso(self.created_at),
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "lease_owner": self.lease_owner,
        }


@dataclass
class Outcome:
    """What one execution of a run ended with; ``value`` is the handler's own return value
    (the inline runner keeps it for its caller, the table keeps its JSON)."""

    run_id: RunId
    state: str
    value: Any = None
    error: dict[str, Any] | None = None
    job: Job | None = field(default=None, compare=False)
