"""The dashboard chart's shape: what is counted, over which range, in bars of which size.

Pure functions on plain data, no database: the dashboard service reads counts per UTC day and
hands them here to become bars. Thirty days are thirty daily bars; longer ranges are gathered
into weeks, months or years, so that the chart keeps a few dozen bars whatever the range (a
bar per day over twenty years of mail would be 7,000 slivers no one can read or hover).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

CountBy = Literal["processed", "message_date"]
Period = Literal["30d", "90d", "1y", "all"]
Bucket = Literal["day", "week", "month", "year"]

COUNT_BY: tuple[CountBy, ...] = ("processed", "message_date")
PERIODS: dict[Period, int | None] = {"30d": 30, "90d": 90, "1y": 365, "all": None}
PERIOD_LABELS: dict[Period, str] = {
    "30d": "30 days",
    "90d": "90 days",
    "1y": "a year",
    "all": "all time",
}
STATUSES = ("matched", "unmatched", "ignored")


@dataclass(frozen=True)
class DayCounts:
    """One bar: the messages of the bucket starting on ``day``, by match status."""

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
class Chart:
    """The bars of one range; ``since`` is the first day counted, ``until`` the last."""

    since: date
    until: date
    bucket: Bucket
    bars: list[DayCounts]


def parse_count_by(value: str | None) -> CountBy:
    """The counting the user asked for; anything unknown is the default, by processing."""
    for known in COUNT_BY:
        if value == known:
            return known
    return "processed"


def parse_period(value: str | None) -> Period:
    for known in PERIODS:
        if value == known:
            return known
    return "30d"


def window(period: Period, today: date) -> date | None:
    """The first day of the range ending ``today``, or None for "all" (from the oldest mail)."""
    days = PERIODS[period]
    return None if days is None else today - timedelta(days=days - 1)


def bucket_for(since: date, until: date) -> Bucket:
    """Daily bars up to two months, weekly up to a bit over a year, then monthly, then yearly."""
    span = (until - since).days + 1
    if span <= 62:
        return "day"
    if span <= 400:
        return "week"
    if span <= 5 * 366:
        return "month"
    return "year"


def _start_of(bucket: Bucket, day: date, since: date) -> date:
    if bucket == "day":
        return day
    if bucket == "week":  # weeks counted from the first day of the range, so none is partial
        return since + timedelta(days=7 * ((day - since).days // 7))
    if bucket == "month":
        return day.replace(day=1)
    return day.replace(month=1, day=1)


def _next(bucket: Bucket, start: date) -> date:
    if bucket == "day":
        return start + timedelta(days=1)
    if bucket == "week":
        return start + timedelta(days=7)
    if bucket == "month":
        return date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return date(start.year + 1, 1, 1)


def build_chart(since: date, until: date, per_day: Iterable[tuple[date, str, int]]) -> Chart:
    """Bars from ``(day, status, count)`` rows: every bucket of the range, empty ones too."""
    bucket = bucket_for(since, until)
    counts: dict[date, dict[str, int]] = {}
    for day, status, count in per_day:
        if status not in STATUSES or not since <= day <= until:
            continue
        slot = counts.setdefault(_start_of(bucket, day, since), {})
        slot[status] = slot.get(status, 0) + int(count)
    bars = []
    start = _start_of(bucket, since, since)
    while start <= until:
        bars.append(DayCounts(start, **counts.get(start, {})))
        start = _next(bucket, start)
    return Chart(since, until, bucket, bars)
