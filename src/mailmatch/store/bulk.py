"""Bulk writes for the import's hot path: the one home of insert-or-skip, insert-returning-ids,
upsert and increment.

Each helper works out per call (never per row) which database it talks to and hands the rows
to that :class:`~mailmatch.store.dialects.SqlDialect`: on SQLite as plain tuples in one
driver ``executemany``, on PostgreSQL through ordinary Core statements. Rows must all have the
keys of the first row, as with SQLAlchemy's own executemany.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.sql import Insert

from mailmatch.store.dialects import dialect_of


def insert_ignore(conn: Connection, table: Table) -> Insert:
    """INSERT that skips rows whose unique key exists (a concurrent run stored them first)."""
    return dialect_of(conn).insert_ignore(table)


def bulk_insert(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    ignore_conflicts: bool = False,
    fallback: Callable[[], object] | None = None,
) -> None:
    """INSERT ``rows`` into ``table`` in one executemany.

    ``ignore_conflicts`` skips rows whose unique key exists (``ON CONFLICT DO NOTHING``).
    ``fallback`` runs instead on dialects other than SQLite (default: ``conn.execute`` of an
    ordinary insert of the same rows).
    """
    if not rows:
        return
    dialect_of(conn).bulk_insert(
        conn, table, rows, ignore_conflicts=ignore_conflicts, fallback=fallback
    )


def insert_returning_ids(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> list[int]:
    """Insert ``rows`` and return their new ids, in order (inside a store write transaction:
    on SQLite the ids are handed out from the table's maximum under the write lock)."""
    if not rows:
        return []
    return dialect_of(conn).insert_returning_ids(conn, table, rows)


def upsert(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    keys: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
) -> None:
    """Insert ``rows`` (tuples in ``columns`` order); where the unique ``keys`` exist already,
    overwrite the row's other columns instead."""
    if rows:
        dialect_of(conn).upsert(conn, table, columns, keys, rows)


def increment(conn: Connection, table: Table, column: str, amounts: dict[int, int]) -> None:
    """Add ``amounts[id]`` to ``column`` of each row ``id``, in one executemany."""
    if amounts:
        dialect_of(conn).increment(conn, table, column, amounts)
