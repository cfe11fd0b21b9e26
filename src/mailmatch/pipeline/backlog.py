"""Which stored messages the pipeline's steps still owe, kept in ``pipeline_backlog``.

One row per stored batch, written in the batch's own transaction (see
:meth:`Backlog.add`) and deleted once every step ran on it: the cost is one INSERT and one
DELETE per batch, whatever the size of the store, and a step's ``pending()`` reads the rows of
one workspace, which are few (only batches in flight or failing).

A row's ``next_step`` is the first step still to run; the steps after it in the pipeline's
order wait for it, since they may read what it wrote (webhooks read the stored matches). The
writer holds its fresh row with a claim (``claimed_until``) while it runs the steps, so a
catch-up elsewhere never runs the same batch twice; a writer killed meanwhile leaves a claim
that expires after ``LEASE``, or that the next run of the same owner (an import, whose own
lease says its last run is over) takes back at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Connection, delete, or_, select, update

from mailmatch.store.db import Database
from mailmatch.store.tables import BACKLOG
from mailmatch.timeutil import now

#: How long a claim keeps others off a batch: far longer than the steps of one batch take.
LEASE = timedelta(minutes=10)
ERROR_CHARS = 2000


@dataclass(frozen=True)
class BacklogRow:
    id: int
    message_pks: list[int]
    next_step: str
    attempts: int
    last_error: str | None


class Backlog:
    """The backlog of one workspace, for a pipeline whose steps are ``order``."""

    def __init__(
        self, db: Database, workspace_id: int, order: Sequence[str], lease: timedelta = LEASE
    ) -> None:
        self.db = db
        self.workspace_id = workspace_id
        self.order = list(order)
        self.lease = lease

    def position(self, step: str) -> int | None:
        """Where ``step`` is in this pipeline; None for a step it does not have (removed, or
        registered only in another process): such a row is left alone here, since the steps
        before it ran already and must not run twice."""
        return self.order.index(step) if step in self.order else None

    # -- writing ------------------------------------------------------------------------------

    def add(
        self,
        conn: Connection,
        message_pks: list[int],
        *,
        next_step: str,
        owner: str | None = None,
        claimed: bool = True,
        error: str | None = None,
    ) -> int:
        """Record that ``message_pks`` still need ``next_step`` and the steps after it; inside
        the caller's transaction (the batch's own, for a stored batch)."""
        stamp = now()
        result = conn.execute(
            BACKLOG.insert().values(
                workspace_id=self.workspace_id,
                message_pks=list(message_pks),
                next_step=next_step,
                attempts=0 if error is None else 1,
                last_error=error,
                owner=owner,
                claimed_until=stamp + self.lease if claimed else None,
                created_at=stamp,
                updated_at=stamp,
            )
        )
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    def done(self, row_id: int) -> None:
        with self.db.engine.begin() as conn:
            conn.execute(delete(BACKLOG).where(BACKLOG.c.id == row_id))

    def failed(self, row_id: int, step: str, error: str) -> None:
        """``step`` raised on the row's batch: keep it for a catch-up, released."""
        with self.db.engine.begin() as conn:
            conn.execute(
                update(BACKLOG)
                .where(BACKLOG.c.id == row_id)
                .values(
                    next_step=step,
                    attempts=BACKLOG.c.attempts + 1,
                    last_error=error[:ERROR_CHARS],
                    claimed_until=None,
                    updated_at=now(),
                )
            )

    def claim(self, reclaim: str | None = None, limit: int = 100) -> list[BacklogRow]:
        """Take rows nobody is running (unclaimed, their claim expired, or held by
        ``reclaim``, an owner known to be gone), oldest first."""
        taken: list[BacklogRow] = []
        for row in self._rows(free=True, reclaim=reclaim, limit=limit):
            t = now()
            with self.db.engine.begin() as conn:
                result = conn.execute(
                    update(BACKLOG)
                    .where(BACKLOG.c.id == row.id, self._free(reclaim, t))
                    .values(claimed_until=t + self.lease, owner=reclaim)
                )
            if getattr(result, "rowcount", 0) == 1:
                taken.append(row)
        return taken

    # -- reading ------------------------------------------------------------------------------

    def rows(self) -> list[BacklogRow]:
        return self._rows()

    def pending(self, step: str, limit: int = 1000) -> list[int]:
        """Ids ``step`` has not handled: in rows whose next step is it or one before it."""
        at = self.position(step)
        ids: list[int] = []
        for row in self._rows():
            here = self.position(row.next_step)
            if at is not None and here is not None and here <= at:
                ids += row.message_pks
                if len(ids) >= limit:
                    break
        return sorted(ids)[:limit]

    def _free(self, reclaim: str | None, t: datetime) -> ColumnElement[bool]:
        free = or_(BACKLOG.c.claimed_until.is_(None), BACKLOG.c.claimed_until < t)
        return or_(free, BACKLOG.c.owner == reclaim) if reclaim is not None else free

    def _rows(
        self, *, free: bool = False, reclaim: str | None = None, limit: int | None = None
    ) -> list[BacklogRow]:
        query = (
            select(
                BACKLOG.c.id,
                BACKLOG.c.message_pks,
                BACKLOG.c.next_step,
                BACKLOG.c.attempts,
                BACKLOG.c.last_error,
            )
            .where(BACKLOG.c.workspace_id == self.workspace_id)
            .order_by(BACKLOG.c.id)
        )
        if free:
            query = query.where(self._free(reclaim, now()), BACKLOG.c.next_step.in_(self.order))
        if limit is not None:
            query = query.limit(limit)
        with self.db.read() as conn:
            return [
                BacklogRow(int(i), [int(p) for p in pks], step, int(attempts), error)
                for i, pks, step, attempts, error in conn.execute(query)
            ]
