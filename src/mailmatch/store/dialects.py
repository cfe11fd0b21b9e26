"""What differs between SQLite and PostgreSQL, in one object per database kind.

The store, the reports and the browse views ask :func:`dialect_of` for the database's
:class:`SqlDialect` and call the capability they need (insert-or-skip, upsert, ids of new
rows, the store lock, the UTC day of a timestamp, full-text search) instead of branching on
``conn.dialect.name`` themselves. A third database would be one more subclass here.

The SQLite side sends plain tuples straight to the driver on the import's hot path:
``conn.execute(table.insert(), rows)`` builds a parameter dict per row through the compiled
statement (``construct_params`` plus a bind processor call per value); on the 6,046-message
corpus that was ~0.5 s of the main thread, more than SQLite's own ``executemany`` of the same
rows. PostgreSQL takes the ordinary Core path (psycopg batches by itself).

Migrations keep their own dialect branches: they describe the schema of each kind.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from sqlalchemy import Column, Connection, Engine, Table, bindparam, func, select, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.sql import ColumnElement, Insert

from mailmatch.errors import ConfigError
from mailmatch.store.search import Fts5Search, SearchIndex, TsvectorSearch

Processor = Callable[[Any], Any] | None
Fallback = Callable[[], object] | None

STORE_LOCK = 727_227  # the PostgreSQL advisory lock that serialises writes to the store


class SqlDialect(ABC):
    """The operations whose SQL depends on the database kind."""

    name: ClassVar[str]
    search: SearchIndex

    @abstractmethod
    def insert_ignore(self, table: Table) -> Insert:
        """INSERT that skips rows whose unique key exists (a concurrent run stored them first)."""

    @abstractmethod
    def bulk_insert(
        self,
        conn: Connection,
        table: Table,
        rows: Sequence[dict[str, Any]],
        *,
        ignore_conflicts: bool = False,
        fallback: Fallback = None,
    ) -> None:
        """INSERT non-empty ``rows`` in one executemany (see :func:`.bulk.bulk_insert`)."""

    @abstractmethod
    def insert_returning_ids(
        self, conn: Connection, table: Table, rows: list[dict[str, Any]]
    ) -> list[int]:
        """Insert non-empty ``rows`` and return their new ids, in order."""

    @abstractmethod
    def upsert(
        self,
        conn: Connection,
        table: Table,
        columns: Sequence[str],
        keys: Sequence[str],
        rows: Sequence[tuple[Any, ...]],
    ) -> None:
        """Insert ``rows`` (tuples in ``columns`` order, plain values needing no bind
        processing); where the unique ``keys`` exist, overwrite the other columns."""

    @abstractmethod
    def increment(
        self, conn: Connection, table: Table, column: str, amounts: dict[int, int]
    ) -> None:
        """Add ``amounts[id]`` to ``column`` of each row ``id``."""

    @abstractmethod
    def lock_store(self, conn: Connection) -> None:
        """Serialise store writers until the transaction ends (see :func:`.db.lock_store`)."""

    @abstractmethod
    def utc_day(self, column: Any) -> ColumnElement[Any]:
        """The UTC calendar day of a timestamp column, in the database's own date function."""


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


class SqliteDialect(SqlDialect):
    """SQLite: tuples straight to the driver; the write lock is ``BEGIN IMMEDIATE`` (db.py)."""

    name = "sqlite"

    def __init__(self) -> None:
        self.search = Fts5Search()

    def insert_ignore(self, table: Table) -> Insert:
        return sqlite.insert(table).on_conflict_do_nothing()

    def bulk_insert(
        self,
        conn: Connection,
        table: Table,
        rows: Sequence[dict[str, Any]],
        *,
        ignore_conflicts: bool = False,
        fallback: Fallback = None,
    ) -> None:
        """The column list, the bind processors (the same ones SQLAlchemy would apply: dates,
        JSON, booleans, binaries) and the Python-side column defaults are worked out once per
        call, each row becomes a tuple, and the driver gets one ``executemany``."""
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
            params = [
                tuple([row[key] for key in keys] + [make() for make in makers]) for row in rows
            ]
        conn.exec_driver_sql(sql, params)

    def insert_returning_ids(
        self, conn: Connection, table: Table, rows: list[dict[str, Any]]
    ) -> list[int]:
        """``RETURNING`` in parameter order makes SQLAlchemy send one INSERT per row (10,000
        statements for the corpus); inside the store's ``BEGIN IMMEDIATE`` transaction no
        other writer can run, so the next ids are ours to hand out and one executemany does."""
        start = int(conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one())
        ids = list(range(start + 1, start + 1 + len(rows)))
        self.bulk_insert(conn, table, [{**row, "id": i} for row, i in zip(rows, ids, strict=True)])
        return ids

    def upsert(
        self,
        conn: Connection,
        table: Table,
        columns: Sequence[str],
        keys: Sequence[str],
        rows: Sequence[tuple[Any, ...]],
    ) -> None:
        quote = conn.dialect.identifier_preparer.quote
        names = ", ".join(quote(c) for c in columns)
        sets = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in columns if c not in keys)
        conn.exec_driver_sql(
            f"INSERT INTO {conn.dialect.identifier_preparer.format_table(table)} ({names}) "
            f"VALUES ({', '.join('?' for _ in columns)}) "
            f"ON CONFLICT ({', '.join(quote(k) for k in keys)}) DO UPDATE SET {sets}",
            list(rows),
        )

    def increment(
        self, conn: Connection, table: Table, column: str, amounts: dict[int, int]
    ) -> None:
        prep = conn.dialect.identifier_preparer
        name = prep.quote(column)
        conn.exec_driver_sql(
            f"UPDATE {prep.format_table(table)} SET {name} = {name} + ? WHERE id = ?",
            [(n, i) for i, n in amounts.items()],
        )

    def lock_store(self, conn: Connection) -> None:
        """Nothing to do: every write transaction began with ``BEGIN IMMEDIATE`` (db.py)."""

    def utc_day(self, column: Any) -> ColumnElement[Any]:
        return func.date(column)  # SQLite stores UTC text: date() reads its first ten characters


def _pg_insert(table: Table) -> Any:
    """PostgreSQL's INSERT construct. Imported on first use: the module costs 40-150 ms to
    import (measured), which every SQLite CLI call would otherwise pay at start-up."""
    from sqlalchemy.dialects import postgresql

    return postgresql.insert(table)


class PostgresDialect(SqlDialect):
    """PostgreSQL: ordinary Core statements, ``RETURNING``, an advisory store lock."""

    name = "postgresql"

    def __init__(self) -> None:
        self.search = TsvectorSearch()

    def insert_ignore(self, table: Table) -> Insert:
        return _pg_insert(table).on_conflict_do_nothing()  # type: ignore[no-any-return]

    def bulk_insert(
        self,
        conn: Connection,
        table: Table,
        rows: Sequence[dict[str, Any]],
        *,
        ignore_conflicts: bool = False,
        fallback: Fallback = None,
    ) -> None:
        if fallback is not None:
            fallback()
            return
        conn.execute(self.insert_ignore(table) if ignore_conflicts else table.insert(), rows)

    def insert_returning_ids(
        self, conn: Connection, table: Table, rows: list[dict[str, Any]]
    ) -> list[int]:
        statement = table.insert().returning(table.c.id, sort_by_parameter_order=True)
        return [int(i) for i in conn.execute(statement, rows).scalars()]

    def upsert(
        self,
        conn: Connection,
        table: Table,
        columns: Sequence[str],
        keys: Sequence[str],
        rows: Sequence[tuple[Any, ...]],
    ) -> None:
        insert = _pg_insert(table)
        conn.execute(
            insert.on_conflict_do_update(
                index_elements=list(keys),
                set_={c: insert.excluded[c] for c in columns if c not in keys},
            ),
            [dict(zip(columns, row, strict=True)) for row in rows],
        )

    def increment(
        self, conn: Connection, table: Table, column: str, amounts: dict[int, int]
    ) -> None:
        conn.execute(
            update(table)
            .where(table.c.id == bindparam("row_id"))
            .values({column: table.c[column] + bindparam("amount")}),
            [{"row_id": i, "amount": n} for i, n in amounts.items()],
        )

    def lock_store(self, conn: Connection) -> None:
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({STORE_LOCK})")

    def utc_day(self, column: Any) -> ColumnElement[Any]:
        return func.date(func.timezone("UTC", column))


SQLITE = SqliteDialect()
POSTGRESQL = PostgresDialect()
_BY_NAME: dict[str, SqlDialect] = {d.name: d for d in (SQLITE, POSTGRESQL)}


def dialect_of(bind: Connection | Engine) -> SqlDialect:
    """The :class:`SqlDialect` of a connection or engine."""
    found = _BY_NAME.get(bind.dialect.name)
    if found is None:
        raise ConfigError(
            f"mailmatch does not support {bind.dialect.name} databases",
            advice=["set MAILMATCH_DATABASE_URL to a sqlite:// or postgresql:// URL"],
        )
    return found
