"""The dashboard's figures for one workspace, each from one indexed aggregate query.

**What is counted.** By default the chart counts messages on the day mailmatch processed them
(stored and matched them: ``messages.created_at``), as Match My Email's dashboard does, so the
first import of years of old mail shows up at once instead of an empty 30 days. The switch to
the message's own ``Date`` header answers the other question ("of the mail written in the last
30 days, how much reached a record?"). Neither moves when records change: the store time is
written once, and ``match_states.matched_at`` (rewritten at every re-match) is never the axis.
A message dated later than now (a sender's wrong clock, spam dated 2037) is counted apart as
"future-dated", never on today's bar; one with no parseable date is counted as "undated".

**Range.** 30 days, 90 days, a year or all the mail; longer ranges get weekly, monthly or
yearly bars (:mod:`mailmatch.reports.chart`).

**Cost.** Everything is a handful of ``GROUP BY``/``COUNT`` queries whatever the size of the
store: the dashboard must answer in well under 100 ms with 100,000 messages. The chart is the
one query whose cost grows with the mail of the range (a status lookup per message: ~100 ms when
all 100,000 messages fall in it), served by the ``(workspace_id, created_at)`` and
``(workspace_id, date)`` indexes of ``messages`` and the narrow ``(message_pk, status)`` index of
``match_states``. So it is kept per workspace and view, and reused until a match is written (the
newest ``matched_at`` or the number of match states changes), the number of future-dated
messages changes (one of them reached the present) or the day turns. A new message only enters
the chart with its match state, so that key misses nothing.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, String, cast, func, literal, select
from sqlalchemy.sql.elements import ColumnElement

from mailmatch.reports.alerts import AlertService, AlertView
from mailmatch.reports.chart import (
    PERIODS,
    Bucket,
    Chart,
    CountBy,
    DayCounts,
    Period,
    build_chart,
    window,
)
from mailmatch.store.db import Database
from mailmatch.store.dialects import dialect_of
from mailmatch.store.jobs import JobLease
from mailmatch.store.models import Account, Import, Message
from mailmatch.store.records import Contact, MatchState
from mailmatch.timeutil import aware, now

DAYS = 30
EPOCH = date(1970, 1, 1)
__all__ = ["DAYS", "Dashboard", "DashboardService", "DayCounts", "ImportHealth", "import_health"]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


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
    count_by: CountBy = "processed"
    period: Period = "30d"
    bucket: Bucket = "day"
    future_dated: int = 0  # Date header later than now: in no bar of the message-date chart
    undated: int = 0  # no parseable Date header: in no bar of the message-date chart

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
    def total(self) -> int:
        return self.matched + self.unmatched + self.ignored

    @property
    def busiest(self) -> int:
        """The tallest bar, so the chart scales to the data (at least 1: no division by 0)."""
        return max([d.total for d in self.days] + [1])

    def to_json(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "counted_by": self.count_by,
            "range": self.period,
            "bucket": self.bucket,
            "matched": self.matched,
            "unmatched": self.unmatched,
            "ignored": self.ignored,
            "messages": self.messages,
            "future_dated": self.future_dated,
            "undated": self.undated,
            "contacts": self.contacts,
            "accounts": self.accounts,
            "days": [d.to_json() for d in self.days],
            "imports": [i.to_json() for i in self.imports],
            "alerts": [a.to_json() for a in self.alerts],
        }


def _as_date(value: Any) -> date:
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _count(*where: ColumnElement[bool]) -> Any:
    return select(func.count()).select_from(Message).where(*where).scalar_subquery()


def _start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


class _ChartCache:
    """The last chart of each workspace and view, and the state of the matches it came from."""

    def __init__(self) -> None:
        self._charts: dict[tuple[Any, ...], tuple[tuple[Any, ...], Chart]] = {}
        self._lock = threading.Lock()

    def get(self, ident: tuple[Any, ...], key: tuple[Any, ...]) -> Chart | None:
        with self._lock:
            found = self._charts.get(ident)
        return found[1] if found is not None and found[0] == key else None

    def put(self, ident: tuple[Any, ...], key: tuple[Any, ...], chart: Chart) -> None:
        with self._lock:
            self._charts[ident] = (key, chart)


_charts = _ChartCache()


class DashboardService:
    """The dashboard of one workspace."""

    def __init__(self, db: Database, *, workspace_id: int) -> None:
        self.db = db
        self.workspace_id = workspace_id

    def dashboard(
        self,
        period: Period | int = "30d",
        *,
        count_by: CountBy = "processed",
        today: date | None = None,
    ) -> Dashboard:
        """The figures of ``period`` ("30d", "90d", "1y", "all"; or a number of days) counted
        by processing time (the default) or by the messages' own date."""
        moment = now()
        until = today or moment.date()
        if isinstance(period, int):
            since: date | None = until - timedelta(days=period - 1)
            name: Period = next((p for p, d in PERIODS.items() if d == period), "30d")
        else:
            since, name = window(period, until), period
        ws = Message.workspace_id == self.workspace_id
        with self.db.read() as conn:
            # Three counts in one statement; the two narrow ones are seeks into the
            # (workspace_id, date) index, where a CASE over every row cost 55 ms at 100,000.
            messages, future, undated = conn.execute(
                select(
                    _count(ws),
                    _count(ws, Message.date > moment),
                    _count(ws, Message.date.is_(None)),
                )
            ).one()
            chart = self._cached_chart(conn, count_by, since, until, moment, int(future))
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
            since=chart.since,
            until=chart.until,
            days=list(chart.bars),
            messages=int(messages),
            contacts=int(contacts),
            accounts=int(accounts),
            imports=imports,
            alerts=alerts,
            count_by=count_by,
            period=name,
            bucket=chart.bucket,
            future_dated=int(future),
            undated=int(undated),
        )

    def _cached_chart(
        self,
        conn: Connection,
        count_by: CountBy,
        since: date | None,
        until: date,
        moment: datetime,
        future: int,
    ) -> Chart:
        newest, states = conn.execute(
            select(func.max(MatchState.matched_at), func.count()).select_from(MatchState)
        ).one()
        span = None if since is None else (until - since).days
        ident = (str(self.db.engine.url), self.workspace_id, count_by, span)
        key = (since, until, str(newest), int(states), future)
        chart = _charts.get(ident, key)
        if chart is None:
            chart = self._chart(conn, count_by, since, until, moment)
            _charts.put(ident, key, chart)
        return chart

    def _chart(
        self,
        conn: Connection,
        count_by: CountBy,
        since: date | None,
        until: date,
        moment: datetime,
    ) -> Chart:
        column = Message.created_at if count_by == "processed" else Message.date
        day = dialect_of(conn).utc_day(column).label("day")
        where = [
            Message.workspace_id == self.workspace_id,
            column < _start(until + timedelta(days=1)),
        ]
        if since is not None:
            where.append(column >= _start(since))
        if count_by == "message_date":  # future-dated mail is counted apart, not as today's
            where.append(Message.date <= moment)
        rows = [
            (_as_date(value), str(status), int(count))
            for value, status, count in conn.execute(
                select(day, MatchState.status, func.count())
                .select_from(Message)
                .join(MatchState, MatchState.message_pk == Message.id)
                .where(*where)
                .group_by(day, MatchState.status)
            )
            if value is not None
        ]
        if since is None:  # "all": from the oldest day that has mail (a 1900 date is a typo)
            since = max(min((d for d, _, _ in rows), default=until), EPOCH)
        return build_chart(since, until, rows)

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
            JobLease.owner.label("lease_owner"),
            JobLease.until.label("lease_until"),
        )
        .join(Account, Account.id == Import.account_id)
        .outerjoin(JobLease, JobLease.key == literal("import:") + cast(Import.id, String))
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
