"""What several page modules check the same way."""

from __future__ import annotations

from mailmatch.errors import NotFound

MAX_ID = 2**62


def path_id(value: int, kind: str) -> int:
    """A record id from the URL path: one no row can have is NotFound (404), not a 500."""
    if not 0 < value < MAX_ID:
        raise NotFound(f"no {kind} {value}")
    return value
