"""Run the pipeline's steps on stored messages, keep what failed, and catch up on it.

A step that raises loses nothing and stops nothing: its error is logged and kept with the
batch in the backlog, the steps after it wait for it on that batch, and the import goes on
with the next batch. ``catch_up`` (at the start of every import, or ``mailmatch pipeline
catch-up``) runs what is left.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from mailmatch.matching.service import MatchService
from mailmatch.pipeline.backlog import LEASE, Backlog, BacklogRow
from mailmatch.pipeline.base import Step, StepContext
from mailmatch.pipeline.registry import STEPS, Registry
from mailmatch.store.db import Database
from mailmatch.store.models import DEFAULT_WORKSPACE_ID

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StepFailure:
    step: str
    error: str


@dataclass
class StepStatus:
    name: str
    description: str
    pending: int
    failing_batches: int
    last_error: str | None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class CatchUp:
    batches: int = 0
    messages: int = 0
    failed: list[StepFailure] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "batches": self.batches,
            "messages": self.messages,
            "failed": [f.__dict__ for f in self.failed],
        }


class Pipeline:
    """The steps of ``registry`` for one workspace."""

    def __init__(
        self,
        db: Database,
        workspace_id: int = DEFAULT_WORKSPACE_ID,
        *,
        matches: MatchService | None = None,
        registry: Registry = STEPS,
    ) -> None:
        self.db = db
        self.workspace_id = workspace_id
        self.backlog = Backlog(db, workspace_id, registry.names(), LEASE)
        matches = matches or MatchService(db, workspace_id=workspace_id)
        self.steps: list[Step] = registry.build(
            StepContext(db, workspace_id, matches, self.backlog)
        )

    # -- a stored batch -------------------------------------------------------------------------

    def enqueue(self, conn: Connection, message_pks: list[int], owner: str | None = None) -> int:
        """In the batch's transaction: these new messages owe every step (claimed by us)."""
        return self.backlog.add(conn, message_pks, next_step=self.steps[0].name, owner=owner)

    def process(self, row_id: int, message_pks: list[int]) -> StepFailure | None:
        """Run every step on a batch just stored (its backlog row ``row_id``)."""
        return self._settle(row_id, 0, message_pks)

    def rerun(self, message_pks: Iterable[int], from_step: str) -> StepFailure | None:
        """Run ``from_step`` and every step after it on messages that changed (a re-match
        after a record or rule edit); what fails is kept for a catch-up."""
        pks = sorted(set(message_pks))
        if not pks:
            return None
        start = self.backlog.position(from_step)
        if start is None:
            raise ValueError(f"no pipeline step called {from_step!r}")
        failure = self._run_from(start, pks)
        if failure is not None:
            with self.db.engine.begin() as conn:
                self.backlog.add(
                    conn, pks, next_step=failure.step, claimed=False, error=failure.error
                )
        return failure

    # -- catching up ----------------------------------------------------------------------------

    def catch_up(self, *, reclaim: str | None = None, limit: int = 100) -> CatchUp:
        """Run what the backlog holds (up to ``limit`` batches), each from its next step.

        ``reclaim``: an owner whose earlier run is known to be over (the import runner, holding
        the import's lease), whose claims are taken back without waiting for them to expire.
        """
        report = CatchUp()
        for row in self.backlog.claim(reclaim, limit):
            report.batches += 1
            report.messages += len(row.message_pks)
            start = self.backlog.position(row.next_step)
            assert start is not None  # claim() takes only rows of steps this pipeline has
            failure = self._settle(row.id, start, row.message_pks)
            if failure is not None:
                report.failed.append(failure)
        return report

    def status(self) -> list[StepStatus]:
        rows = self.backlog.rows()
        out = []
        for at, step in enumerate(self.steps):
            owed = [r for r in rows if _owes(self.backlog.position(r.next_step), at)]
            failing = [r for r in rows if r.next_step == step.name and r.attempts > 0]
            out.append(
                StepStatus(
                    step.name,
                    step.description,
                    len({pk for r in owed for pk in r.message_pks}),
                    len(failing),
                    _last_error(failing),
                )
            )
        return out

    # -- running --------------------------------------------------------------------------------

    def _settle(self, row_id: int, start: int, pks: list[int]) -> StepFailure | None:
        failure = self._run_from(start, pks)
        if failure is None:
            self.backlog.done(row_id)
        else:
            self.backlog.failed(row_id, failure.step, failure.error)
        return failure

    def _run_from(self, start: int, pks: list[int]) -> StepFailure | None:
        for step in self.steps[start:]:
            try:
                step.run(pks)
            except Exception as exc:  # any step's bug or outage: kept, retried, never fatal
                log.exception("pipeline step %s failed on %d messages", step.name, len(pks))
                return StepFailure(step.name, f"{type(exc).__name__}: {exc}")
        return None


def _owes(position: int | None, at: int) -> bool:
    """A row whose next step is at ``position`` still owes the step at ``at``."""
    return position is not None and position <= at


def _last_error(rows: list[BacklogRow]) -> str | None:
    return rows[-1].last_error if rows else None
