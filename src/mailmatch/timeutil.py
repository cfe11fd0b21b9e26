"""Time helpers: SQLite hands back naive datetimes, everything here compares aware UTC ones."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from mailmatch.errors import InvalidInput

_EVERY = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$", re.I)
_UNITS = {"s": 1, "": 60, "m": 60, "h": 3600, "d": 86400}


def now() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_every(text: str) -> int:
    """``20m``, ``1h``, ``90s``, ``1d`` (a bare number is minutes) to seconds."""
    match = _EVERY.match(text)
    if not match:
        raise InvalidInput(f"not a schedule: {text!r}", advice=["use e.g. 20m, 1h, 1d"])
    seconds = int(match.group(1)) * _UNITS[match.group(2).lower()]
    if seconds < 60:
        raise InvalidInput("an import runs at most once a minute", advice=["use 1m or more"])
    return seconds


def format_every(seconds: int | None) -> str | None:
    if seconds is None:
        return None
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def later(seconds: float) -> datetime:
    return now() + timedelta(seconds=seconds)
