"""Bulk INSERT for the import's hot path, without SQLAlchemy's per-row parameter work.

``conn.execute(table.insert(), rows)`` builds a parameter dict per row through the compiled
statement (``construct_params`` plus a bind processor call per value): on the 6,046-message
corpus that was ~0.5 s of the main thread, more than SQLite's own ``executemany`` of the same
rows. Here the column list, the bind processors (the same ones SQLAlchemy would apply: dates,
JSON, booleans, binaries) and the Python-side column defaults are worked out once per call,
each row becomes a tuple, and the driver gets one ``executemany``.

Only on SQLite; other dialects take the ordinary path (psycopg batches by itself). Rows must
all have the keys of the first row, as with SQLAlchemy's own executemany.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Column, Connection, Table

Processor = Callable[[Any], Any] | None


def _default_of(column: Column[Any]) -> Callable[[], Any] | None:
    """A Python-side scalar or callable default as a no-argument function, else ``None``."""
    default = column.default
    if default is None:
        return None
    if getattr(default, "is_scalar", False):
        value = default.arg  # type: ignore[attr-defined]
        return lambda: value
    if getattr(default, "is_callable", False):
        fn = default.arg  # type: ignore[attr-defined]
        return lambda: fn(None)  # SQLAlchemy wraps no-argument callables to take a context
    raise NotImplementedError(f"default of {column} is not a Python value")


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
    if conn.dialect.name != "sqlite":
        if fallback is not None:
            fallback()
            return
        from mailmatch.store.messages import insert_ignore

        conn.execute(insert_ignore(conn, table) if ignore_conflicts else table.insert(), rows)
        return
    dialect = conn.dialect
    keys = list(rows[0])
    given = set(keys)
    defaults: list[tuple[Column[Any], Callable[[], Any]]] = []
    for column in table.columns:
        if column.key not in given:
            make = _default_of(column)
            if make is not None:
                defaults.append((column, make))
    columns = [table.columns[key] for key in keys] + [column for column, _ in defaults]
    processors: list[Processor] = [
        column.type.dialect_impl(dialect).bind_processor(dialect) for column in columns
    ]
    quote = dialect.identifier_preparer.quote
    sql = (
        f"INSERT INTO {dialect.identifier_preparer.format_table(table)} "
        f"({', '.join(quote(column.name) for column in columns)}) "
        f"VALUES ({', '.join('?' for _ in columns)})"
    )
    if ignore_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    makers = [make for _, make in defaults]
    params: list[tuple[Any, ...]] = []
    if any(p is not None for p in processors):
        for row in rows:
            values = [row[key] for key in keys] + [make() for make in makers]
            params.append(
                tuple(v if p is None else p(v) for p, v in zip(processors, values, strict=True))
            )
    else:
        params = [tuple([row[key] for key in keys] + [make() for make in makers]) for row in rows]
    conn.exec_driver_sql(sql, params)
