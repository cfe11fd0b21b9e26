"""Full-text search behind one interface: SQLite FTS5 or PostgreSQL tsvector.

The index is written in the same transaction as the message, so a message is searchable as
soon as it is stored and never indexed twice. Which index a database has is the dialect's
business: :func:`mailmatch.store.dialects.dialect_of` hands out the right one.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, func, literal_column, select, text
from sqlalchemy.sql import ColumnElement

from mailmatch.store.tables import MESSAGES

_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class SearchDoc:
    message_pk: int
    subject: str
    addresses: str
    body: str


def fts_query(query: str) -> str | None:
    """User words to an FTS5 query: every word must appear; prefixes with a trailing ``*``.

    Words are quoted so that FTS5 syntax in what the user typed (``-``, ``:``, ``"``) can never
    make the query invalid.
    """
    terms = []
    for raw in query.split():
        prefix = raw.endswith("*")
        for word in _WORD.findall(raw):
            terms.append(f'"{word}"' + ("*" if prefix else ""))
    return " AND ".join(terms) if terms else None


def ts_query(query: str) -> str | None:
    """User words to a ``to_tsquery`` string: every word must appear."""
    words = " & ".join(_WORD.findall(query))
    return words or None


class SearchIndex(ABC):
    """The full-text index of one database kind."""

    @abstractmethod
    def add(self, conn: Connection, docs: list[SearchDoc]) -> None:
        """Index ``docs`` (messages stored in this same transaction)."""

    @abstractmethod
    def search(self, conn: Connection, query: str, workspace_id: int, limit: int = 50) -> list[int]:
        """Ids of the workspace's messages, best match first.

        The index itself is global (one row per message id); the workspace comes from joining
        ``messages``, so a hit in another workspace is never returned nor counted in ``limit``.
        """

    @abstractmethod
    def condition(self, query: str) -> ColumnElement[bool] | None:
        """A condition on ``messages.id`` for the words in ``query``; None when it has none
        (for listings that filter, sort and page by themselves)."""


class Fts5Search(SearchIndex):
    """SQLite: the ``messages_fts`` FTS5 table, keyed by the message id as its rowid."""

    def add(self, conn: Connection, docs: list[SearchDoc]) -> None:
        if not docs:
            return
        conn.exec_driver_sql(  # tuples straight to the driver: no per-row binding work
            "INSERT INTO messages_fts(rowid, subject, addresses, body) VALUES (?, ?, ?, ?)",
            [(d.message_pk, d.subject, d.addresses, d.body) for d in docs],
        )

    def search(self, conn: Connection, query: str, workspace_id: int, limit: int = 50) -> list[int]:
        match = fts_query(query)
        if match is None:
            return []
        result = conn.execute(
            text(
                "SELECT messages_fts.rowid FROM messages_fts "
                "JOIN messages ON messages.id = messages_fts.rowid "
                "WHERE messages_fts MATCH :q AND messages.workspace_id = :ws "
                "ORDER BY bm25(messages_fts, 5.0, 2.0, 1.0) LIMIT :n"
            ),
            {"q": match, "ws": workspace_id, "n": limit},
        )
        return [row[0] for row in result]

    def condition(self, query: str) -> ColumnElement[bool] | None:
        match = fts_query(query)
        if match is None:
            return None
        hits: Select[Any] = (
            select(literal_column("rowid"))
            .select_from(text("messages_fts"))
            .where(text("messages_fts MATCH :fts_q").bindparams(fts_q=match))
        )
        return MESSAGES.c.id.in_(hits)


class TsvectorSearch(SearchIndex):
    """PostgreSQL: the ``messages.search_vector`` column, subject and addresses weighted."""

    def add(self, conn: Connection, docs: list[SearchDoc]) -> None:
        if not docs:
            return
        rows = [{"id": d.message_pk, "s": d.subject, "a": d.addresses, "b": d.body} for d in docs]
        conn.execute(
            text(
                "UPDATE messages SET search_vector = "
                "setweight(to_tsvector('simple', :s), 'A') || "
                "setweight(to_tsvector('simple', :a), 'B') || "
                "to_tsvector('simple', :b) WHERE id = :id"
            ),
            rows,
        )

    def search(self, conn: Connection, query: str, workspace_id: int, limit: int = 50) -> list[int]:
        words = ts_query(query)
        if words is None:
            return []
        result = conn.execute(
            text(
                "SELECT id FROM messages WHERE search_vector @@ to_tsquery('simple', :q) "
                "AND workspace_id = :ws "
                "ORDER BY ts_rank(search_vector, to_tsquery('simple', :q)) DESC LIMIT :n"
            ),
            {"q": words, "ws": workspace_id, "n": limit},
        )
        return [row[0] for row in result]

    def condition(self, query: str) -> ColumnElement[bool] | None:
        words = ts_query(query)
        if words is None:
            return None
        vector: ColumnElement[Any] = literal_column("messages.search_vector")
        return vector.bool_op("@@")(func.to_tsquery("simple", words))
