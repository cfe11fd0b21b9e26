"""SQLAlchemy models for background jobs: their runs and the leases of their keys.

The runs live in the database, not in a process's memory, so that any process (``serve``, a
``worker``, the CLI) shows the progress of a run another one started, and a run that failed its
retries waits in the dead list until a person retries or drops it. See :mod:`mailmatch.jobs`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from mailmatch.store.models import Base, utcnow


class JobRun(Base):
    """One run of a job: queued, running, done, skipped, failed (a retry is due) or dead."""

    __tablename__ = "job_runs"
    __table_args__ = (
        Index("ix_job_runs_key_state", "key", "state"),
        Index("ix_job_runs_state_run_after", "state", "run_after"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(100))
    key: Mapped[str] = mapped_column(String(200))
    args: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The workspace the job works in, for display and filtering; None: every workspace's.
    workspace_id: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=1)
    progress: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    result: Mapped[Any | None] = mapped_column(JSON)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    run_after: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class JobLease(Base):
    """Who holds a job key (e.g. ``import:42``) and until when: one holder per key at a time."""

    __tablename__ = "job_leases"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200))
    until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
