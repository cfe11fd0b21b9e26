"""Tell a full disk from every other failure of a write, and say where and how full.

A full disk surfaces in three shapes: ``OSError`` with ``ENOSPC`` (a file write), SQLite's
``SQLITE_FULL`` ("database or disk is full", wrapped by SQLAlchemy) and PostgreSQL's SQLSTATE
53100. Left alone, the first looks like a dropped connection to the import (``OSError``) and
the others print SQLAlchemy's traceback; :func:`disk_full_as_error` turns all three into one
:class:`~mailmatch.errors.DiskFull` naming the path and its free space.
"""

from __future__ import annotations

import errno
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.exc import DBAPIError

from mailmatch.errors import DiskFull
from mailmatch.store.db import Database

SQLITE_FULL = 13
PG_DISK_FULL = "53100"
#: A run after a full disk is let through once at least this much more space is free than
#: when it filled up (a batch needs a few MiB; a disk freed by a few KiB fills up again).
RESUME_MARGIN = 8 * 1024 * 1024


def store_path(db: Database) -> Path | None:
    """The SQLite database file (None for PostgreSQL or an in-memory database)."""
    url = db.engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database).resolve()


def free_bytes(path: Path) -> int | None:
    """Free space (for this user) on the filesystem holding ``path`` or its nearest parent."""
    for candidate in (path, *path.parents):
        try:
            return shutil.disk_usage(candidate).free
        except OSError:
            continue
    return None


def disk_full(exc: BaseException, db: Database) -> DiskFull | None:
    """``exc`` as a :class:`DiskFull` if it is one of the three shapes, else None."""
    if isinstance(exc, DiskFull):
        return exc
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        where = Path(exc.filename) if exc.filename else store_path(db)
    elif isinstance(exc, DBAPIError):
        orig = exc.orig
        if getattr(orig, "sqlstate", None) == PG_DISK_FULL:  # the server's disk: its words
            host = db.engine.url.host or "localhost"
            return DiskFull(f"the PostgreSQL server {host}", None, server_text=str(orig))
        if not (isinstance(orig, sqlite3.Error) and orig.sqlite_errorcode == SQLITE_FULL):
            return None
        where = store_path(db)
    else:
        return None
    if where is None:
        return DiskFull("the data home", None)
    return DiskFull(str(where), free_bytes(where))


@contextmanager
def disk_full_as_error(db: Database) -> Iterator[None]:
    """Raise :class:`DiskFull` for a full disk met inside the block; anything else as it is."""
    try:
        yield
    except (OSError, DBAPIError) as exc:
        full = disk_full(exc, db)
        if full is None:
            raise
        raise full from exc


def space_is_back(db: Database, free_at_failure: int | None) -> DiskFull | None:
    """None once a run may try again after a full disk, else the error to report.

    Checked before a run logs in or writes anything, so a scheduler polling a full disk
    costs one ``statvfs`` per check, not a connection to the mail server.
    """
    path = store_path(db)
    if path is None or free_at_failure is None:
        return None  # nothing to measure here (PostgreSQL): let the run find out
    free = free_bytes(path)
    if free is None or free >= free_at_failure + RESUME_MARGIN:
        return None
    return DiskFull(str(path), free)
