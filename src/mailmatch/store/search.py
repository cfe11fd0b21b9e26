"""Full-text search behind one interface: SQLite FTS5 or PostgreSQL tsvector.

The index is written in the same transaction as the message, so a message is searchable as
soon as it is stored and never indexed twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Connection, text

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


class SearchIndex:
    def __init__(self, dialect: str) -> None:
        self.dialect = dialect

    def add(self, conn: Connection, docs: list[SearchDoc]) -> None:
        if not docs:
            return
        if self.dialect == "sqlite":  # tuples straight to the driver: no per-row binding work
            conn.exec_driver_sql(
                "INSERT INTO messages_fts(rowid, subject, addresses, body) VALUES (?, ?, ?, ?)",
                [(d.message_pk, d.subject, d.addresses, d.body) for d in docs],
            )
        else:
            rows = [
                {"id": d.message_pk, "s": d.subject, "a": d.addresses, "b": d.body} for d in docs
            ]
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
        """Ids of the workspace's messages, best match first.

        The index itself is global (one row per message id); the workspace comes from joining
        ``messages``, so a hit in another workspace is never returned nor counted in ``limit``.
        """
        if self.dialect == "sqlite":
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
        words = " & ".join(_WORD.findall(query))
        if not words:
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
