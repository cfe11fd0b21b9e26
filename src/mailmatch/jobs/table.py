"""The ``job_runs`` table: queue a run, claim it, record progress and the end, list, retry, drop.

Every change is one short conditional write, so several processes can share the table: a run
is claimed by the one ``UPDATE ... WHERE state = 'queued'`` that matches, and a run whose worker
died (its key lease is gone) is put back in the queue, or in the dead list when it has used up
its attempts.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update

from mailmatch.errors import InvalidInput, NotFound
from mailmatch.jobs.lease import live_holder
from mailmatch.jobs.model import (
    ACTIVE,
    DEAD,
    FAILED,
    QUEUED,
    RUNNING,
    Job,
    RunId,
    RunView,
)
from mailmatch.store.db import Database
from mailmatch.store.jobs import JobRun
from mailmatch.timeutil import aware, now

WORKER_LOST = "worker_lost"


def view(row: JobRun) -> RunView:
    return RunView(
        id=row.id,
        kind=row.kind,
        key=row.key,
        args=dict(row.args or {}),
        workspace_id=row.workspace_id,
        state=row.state,
        attempts=row.attempts,
        max_attempts=row.max_attempts,
        progress=row.progress,
        result=row.result,
        error=row.error,
        created_at=aware(row.created_at) or now(),
        started_at=aware(row.started_at),
        finished_at=aware(row.finished_at),
        lease_owner=row.lease_owner,
    )


def _lost(db: Database, row: JobRun) -> bool:
    """A running run whose worker no longer holds its key: killed, or its host is gone."""
    return row.state == RUNNING and live_holder(db, row.key) != row.lease_owner


def _give_back(row: JobRun) -> None:
    """A lost run counts as a failed attempt: queued again, or dead when none are left."""
    row.error = {"code": WORKER_LOST, "message": "the process running it stopped", "advice": []}
    row.lease_owner = row.lease_until = None
    if row.attempts >= row.max_attempts:
        row.state, row.finished_at = DEAD, now()
    else:
        row.state, row.run_after = QUEUED, now()


def enqueue(db: Database, job: Job, max_attempts: int) -> RunView:
    """Queue a run of ``job``, or return the run of its key that is already under way."""
    with db.session() as session:
        for row in session.scalars(
            select(JobRun).where(JobRun.key == job.key, JobRun.state.in_(ACTIVE))
        ):
            if _lost(db, row):
                _give_back(row)
                if row.state == DEAD:
                    continue
            return view(row)
        row = JobRun(
            kind=job.kind,
            key=job.key,
            args=job.args,
            workspace_id=job.workspace_id,
            state=QUEUED,
            attempts=0,
            max_attempts=max(1, max_attempts),
            created_at=now(),
            run_after=now(),
        )
        session.add(row)
        session.flush()
        return view(row)


def claim(db: Database, run_id: RunId, owner: str, lease_seconds: float) -> RunView | None:
    """Mark a queued (or retry-due) run as running for ``owner``; None when another took it."""
    moment = now()
    with db.session() as session:
        taken = session.execute(
            update(JobRun)
            .where(JobRun.id == run_id, JobRun.state.in_((QUEUED, FAILED)))
            .values(
                state=RUNNING,
                attempts=JobRun.attempts + 1,
                started_at=moment,
                finished_at=None,
                lease_owner=owner,
                lease_until=moment + timedelta(seconds=lease_seconds),
            )
            .execution_options(synchronize_session=False)
        )
        if getattr(taken, "rowcount", 0) != 1:
            return None
        row = session.get(JobRun, run_id)
        assert row is not None
        return view(row)


def skip_queued(db: Database, run_id: RunId, error: dict[str, Any]) -> bool:
    """End a queued run that cannot run now (its key is held elsewhere) as skipped."""
    with db.session() as session:
        done = session.execute(
            update(JobRun)
            .where(JobRun.id == run_id, JobRun.state.in_((QUEUED, FAILED)))
            .values(state="skipped", error=error, finished_at=now())
            .execution_options(synchronize_session=False)
        )
        return getattr(done, "rowcount", 0) == 1


def set_progress(db: Database, run_id: RunId, progress: dict[str, Any]) -> None:
    with db.engine.begin() as conn:
        conn.execute(update(JobRun).where(JobRun.id == run_id).values(progress=progress))


def finish(
    db: Database,
    run_id: RunId,
    state: str,
    *,
    result: Any = None,
    error: dict[str, Any] | None = None,
    retry_in: float | None = None,
    progress: dict[str, Any] | None = None,
) -> None:
    """Record the end of an attempt; ``retry_in`` (seconds) with state ``failed``."""
    values: dict[str, Any] = {"state": state, "result": result, "error": error,
                              "lease_owner": None, "lease_until": None}  # fmt: skip
    if progress is not None:
        values["progress"] = progress
    if state == FAILED:
        values["run_after"] = now() + timedelta(seconds=retry_in or 0)
    else:
        values["finished_at"] = now()
    with db.engine.begin() as conn:
        conn.execute(update(JobRun).where(JobRun.id == run_id).values(**values))


def get(db: Database, run_id: RunId) -> RunView:
    with db.read_session() as session:
        row = session.get(JobRun, run_id)
        if row is None:
            raise NotFound(f"no job run {run_id}", advice=["list them: mailmatch jobs list"])
        return view(row)


def latest(db: Database, key: str, limit: int = 1) -> list[RunView]:
    """The newest runs of ``key``, newest first."""
    with db.read_session() as session:
        rows = session.scalars(
            select(JobRun).where(JobRun.key == key).order_by(JobRun.id.desc()).limit(limit)
        )
        return [view(r) for r in rows]


def runs(
    db: Database,
    *,
    states: tuple[str, ...] | None = None,
    kind: str | None = None,
    workspace_id: int | None = None,
    limit: int = 100,
) -> list[RunView]:
    """Runs newest first, optionally of some states, one kind, one workspace."""
    query = select(JobRun).order_by(JobRun.id.desc()).limit(limit)
    if states:
        query = query.where(JobRun.state.in_(states))
    if kind:
        query = query.where(JobRun.kind == kind)
    if workspace_id is not None:  # the workspace's runs and the ones of every workspace
        query = query.where(or_(JobRun.workspace_id == workspace_id, JobRun.workspace_id.is_(None)))
    with db.read_session() as session:
        return [view(r) for r in session.scalars(query)]


def due(db: Database, limit: int = 100) -> list[RunId]:
    """Runs to execute now: queued ones, retries whose wait is over, and lost runs given back."""
    with db.session() as session:
        for row in session.scalars(select(JobRun).where(JobRun.state == RUNNING)):
            if _lost(db, row):
                _give_back(row)
    with db.read_session() as session:
        found = session.scalars(
            select(JobRun.id)
            .where(JobRun.state.in_((QUEUED, FAILED)), JobRun.run_after <= now())
            .order_by(JobRun.run_after, JobRun.id)
            .limit(limit)
        )
        return [int(i) for i in found]


def retry(db: Database, run_id: RunId) -> RunView:
    """Put a dead (or failed) run back in the queue with all its attempts again."""
    with db.session() as session:
        row = session.get(JobRun, run_id)
        if row is None:
            raise NotFound(f"no job run {run_id}", advice=["list them: mailmatch jobs failed"])
        if row.state not in (DEAD, FAILED):
            raise InvalidInput(
                f"job run {run_id} is {row.state}; only a dead or failed run is retried",
                advice=["the dead list: mailmatch jobs failed"],
            )
        row.state, row.attempts, row.run_after, row.finished_at = QUEUED, 0, now(), None
        session.flush()
        return view(row)


def drop(db: Database, run_id: RunId) -> RunView:
    """Remove a dead run from the list for good (what it would have done is not done)."""
    with db.session() as session:
        row = session.get(JobRun, run_id)
        if row is None:
            raise NotFound(f"no job run {run_id}", advice=["list them: mailmatch jobs failed"])
        if row.state != DEAD:
            raise InvalidInput(
                f"job run {run_id} is {row.state}; only a dead run is dropped",
                advice=["the dead list: mailmatch jobs failed"],
            )
        found = view(row)
        session.execute(delete(JobRun).where(JobRun.id == run_id))
        return found
