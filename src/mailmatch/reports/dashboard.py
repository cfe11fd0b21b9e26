"""The dashboard's figures for one workspace, each from one indexed aggregate query.

The 30-day chart counts messages by the day of their own ``Date`` header (in UTC), not by the
time they were matched. ``match_states.matched_at`` is rewritten every time a message is
re-matched (a new contact, company or rule re-matches the messages it concerns), and the first
import of a mailbox matches years of mail in one afternoon: counted by match time, both would
pile old mail onto "today" and the chart would show the importer's activity, not the mail.
By message date the chart answers the question the dashboard asks ("of the mail of the last
30 days, how much reached a record?"), it stays put when records change, and it is served by the
``(workspace_id, date)`` index of ``messages``. Messages without a parseable date, or dated in
the future beyond today, are not in the chart (they are in "messages stored").

Everything here is a handful of ``GROUP BY``/``COUNT`` queries whatever the size of the store:
the dashboard must answer in well under 100 ms with 100,000 messages. The chart is the one
query whose cost grows with the mail of the window (a status lookup per message: ~100 ms when
all 100,000 messages fall in the 30 days), so it is kept per workspace and reused until a match
is written (the newest ``matched_at`` or the number of match states changes) or the day turns.
A new message only enters the chart with its match state, so that key misses nothing.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.sql.elements import ColumnElement

from mailmatch.reports.alerts import AlertService, AlertView
from mailmatch.store.db import Database
from mailmatch.store.models import Account, Import, Message
from mailmatch.store.records import Contact, MatchState
from mailmatch.timeutil import aware, now

DAYS = 30
STATUSES = ("matched", "unmatched", "ignored")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


@dataclass(frozen=True)
class DayCounts:
    day: date
    matched: int = 0
    unmatched: int = 0
    ignored: int = 0

    @property
    def total(self) -> int:
        return self.matched + self.unmatched + self.ignored

    def to_json(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "matched": self.matched,
            "unmatched": self.unmatched,
            "ignored": self.ignored,
        }


@dataclass(frozen=True)
class ImportHealth:
    """What the dashboard and the imports page need to know about an import's health."""

    name: str
    account: str
    state: str
    every_seconds: int | None
    last_run_at: datetime | None
    next_run_at: datetime | None
    last_ok_at: datetime | None
    failing_since: datetime | None
    error_code: str | None
    lease_holder: str | None  # who runs it right now (this server, the CLI, a worker), if anyone

    @property
    def running(self) -> bool:
        return self.lease_holder is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "account": self.account,
            "state": self.state,
            "running": self.running,
            "last_run_at": _iso(self.last_run_at),
            "next_run_at": _iso(self.next_run_at),
            "last_ok_at": _iso(self.last_ok_at),
            "failing_since": _iso(self.failing_since),
            "error_code": self.error_code,
        }


@dataclass
class Dashboard:
    since: date
    until: date
    days: list[DayCounts]
    messages: int
    contacts: int
    accounts: int
    imports: list[ImportHealth] = field(default_factory=list)
    alerts: list[AlertView] = field(default_factory=list)

    @property
    def matched(self) -> int:
        return sum(d.matched for d in self.days)

    @property
    def unmatched(self) -> int:
        return sum(d.unmatched for d in self.days)

    @property
    def ignored(self) -> int:
        return sum(d.ignored for d in self.days)

    @property
    def busiest(self) -> int:
        """The tallest bar, so the chart scales to the data (at least 1: no division by 0)."""
        return max([d.total for d in self.days] + [1])

    def to_json(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "counted_by": "message_date",
            "matched": self.matched,
            "unmatched": self.unmatched,
            "ignored": self.ignored,
            "messages": self.messages,
            "contacts": self.contacts,
            "accounts": self.accounts,
            "days": [d.to_json() for d in self.days],
            "imports": [i.to_json() for i in self.imports],
            "alerts": [a.to_json() for a in self.alerts],
        }


def _utc_day(conn: Connection, column: Any) -> ColumnElement[Any]:
    """The UTC calendar day of a timestamp column, in the database's own date function."""
    if conn.dialect.name == "postgresql":
        return func.date(func.timezone("UTC", column))
    return func.date(column)  # SQLite stores UTC text: date() reads its first ten characters


def _as_date(value: Any) -> date:
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


class _ChartCache:
    """The last chart of each workspace and the state of the matches it was computed from."""

    def __init__(self) -> None:
        self._charts: dict[tuple[str, int], tuple[tuple[Any, ...], list[DayCounts]]] = {}
        self._lock = threading.Lock()

    def get(self, ident: tuple[str, int], key: tuple[Any, ...]) -> list[DayCounts] | None:
        with self._lock:
            found = self._charts.get(ident)
        return list(found[1]) if found is not None and found[0] == key else None

    def put(self, ident: tuple[str, int], key: tuple[Any, ...], chart: list[DayCounts]) -> None:
        with self._lock:
            self._charts[ident] = (key, chart)


_charts = _ChartCache()


class DashboardService:
    """The dashboard of one workspace."""

    def __init__(self, db: Database, *, workspace_id: int) -> None:
        self.db = db
        self.workspace_id = workspace_id

    def dashboard(self, days: int = DAYS, *, today: date | None = None) -> Dashboard:
        until = today or now().date()
        since = until - timedelta(days=days - 1)
        with self.db.read() as conn:
            chart = self._cached_days(conn, since, until)
            messages = conn.execute(
                select(func.count())
                .select_from(Message)
                .where(Message.workspace_id == self.workspace_id)
            ).scalar_one()
            contacts = conn.execute(
                select(func.count())
                .select_from(Contact)
                .where(Contact.workspace_id == self.workspace_id)
            ).scalar_one()
            accounts = conn.execute(
                select(func.count())
                .select_from(Account)
                .where(Account.workspace_id == self.workspace_id)
            ).scalar_one()
            imports = import_health(conn, self.workspace_id)
        alerts = AlertService(self.db, workspace_id=self.workspace_id).list(open_only=True)
        return Dashboard(
            since=since,
            until=until,
            days=chart,
            messages=int(messages),
            contacts=int(contacts),
            accounts=int(accounts),
            imports=imports,
            alerts=alerts,
        )

    def _cached_days(self, conn: Connection, since: date, until: date) -> list[DayCounts]:
        newest, states = conn.execute(
            select(func.max(MatchState.matched_at), func.count()).select_from(MatchState)
        ).one()
        ident = (str(self.db.engine.url), self.workspace_id)
        key = (since, until, str(newest), int(states))
        chart = _charts.get(ident, key)
        if chart is None:
            chart = self._days(conn, since, until)
            _charts.put(ident, key, chart)
        return chart

    def _days(self, conn: Connection, since: date, until: date) -> list[DayCounts]:
        start = datetime.combine(since, time.min, tzinfo=UTC)
        end = datetime.combine(until + timedelta(days=1), time.min, tzinfo=UTC)
        day = _utc_day(conn, Message.date).label("day")
        rows = conn.execute(
            select(day, MatchState.status, func.count())
            .select_from(Message)
            .join(MatchState, MatchState.message_pk == Message.id)
            .where(
                Message.workspace_id == self.workspace_id,
                Message.date >= start,
                Message.date < end,
            )
            .group_by(day, MatchState.status)
        ).all()
        counts: dict[date, dict[str, int]] = {}
        for value, status, count in rows:
            if status in STATUSES and value is not None:
                counts.setdefault(_as_date(value), {})[status] = int(count)
        return [
            DayCounts(since + timedelta(days=n), **counts.get(since + timedelta(days=n), {}))
            for n in range((until - since).days + 1)
        ]

    def health(self) -> list[ImportHealth]:
        with self.db.read() as conn:
            return import_health(conn, self.workspace_id)


def import_health(conn: Connection, workspace_id: int) -> list[ImportHealth]:
    """Every import of the workspace with its account and who holds its lease, in one query."""
    rows = conn.execute(
        select(
            Import.name,
            Account.name.label("account"),
            Import.state,
            Import.every_seconds,
            Import.last_run_at,
            Import.next_run_at,
            Import.last_ok_at,
            Import.failing_since,
            Import.last_error,
            Import.lease_owner,
            Import.lease_until,
        )
        .join(Account, Account.id == Import.account_id)
        .where(Import.workspace_id == workspace_id)
        .order_by(Import.name)
    ).all()
    moment = now()
    found = []
    for r in rows:
        until = aware(r.lease_until)
        holder = r.lease_owner if r.lease_owner and until and until > moment else None
        found.append(
            ImportHealth(
                name=r.name,
                account=r.account,
                state=r.state,
                every_seconds=r.every_seconds,
                last_run_at=aware(r.last_run_at),
                next_run_at=aware(r.next_run_at),
                last_ok_at=aware(r.last_ok_at),
                failing_since=aware(r.failing_since),
                error_code=(r.last_error or {}).get("code") if r.state != "ok" else None,
                lease_holder=holder,
            )
        )
    return found
