"""What differs between SQLite and PostgreSQL, asked of one object: the same calls give the
same rows on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import select

from mailmatch.store.bulk import bulk_insert, increment, insert_ignore, insert_returning_ids, upsert
from mailmatch.store.db import Database
from mailmatch.store.dialects import dialect_of
from mailmatch.store.messages import MessageStore
from mailmatch.store.search import SearchDoc
from mailmatch.store.tables import BLOBS, LINKS, MESSAGES, THREADS
from tests.store.test_messages import mail

SRC = Path(__file__).resolve().parents[2] / "src" / "mailmatch"


def blob(sha: str, size: int = 1) -> dict[str, Any]:
    return {"sha256": sha, "size": size, "codec": "raw", "data": b"x" * size}


def test_each_database_has_its_own_dialect(either_db: Database) -> None:
    with either_db.engine.connect() as conn:
        assert dialect_of(conn) is dialect_of(either_db.engine)
        assert dialect_of(conn).name == either_db.engine.dialect.name


def test_insert_ignore_keeps_the_row_that_was_there_first(either_db: Database) -> None:
    with either_db.engine.begin() as conn:
        bulk_insert(conn, BLOBS, [blob("a", 1)])
        bulk_insert(conn, BLOBS, [blob("a", 2), blob("b", 3)], ignore_conflicts=True)
        conn.execute(insert_ignore(conn, BLOBS), [blob("b", 4), blob("c", 5)])
        sizes = dict(conn.execute(select(BLOBS.c.sha256, BLOBS.c.size)).all())
    assert sizes == {"a": 1, "b": 3, "c": 5}


def test_new_rows_come_back_with_their_ids_in_order(either_db: Database) -> None:
    rows = [
        {"workspace_id": 1, "subject_key": s, "participants_key": "p", "message_count": 0}
        for s in ("one", "two", "three")
    ]
    with either_db.engine.begin() as conn:
        first = insert_returning_ids(conn, THREADS, rows[:1])
        ids = insert_returning_ids(conn, THREADS, rows[1:])
        subjects = dict(conn.execute(select(THREADS.c.id, THREADS.c.subject_key)).all())
    assert [subjects[i] for i in first + ids] == ["one", "two", "three"]
    assert len(set(first + ids)) == 3


def test_upsert_overwrites_and_increment_adds(either_db: Database) -> None:
    thread = {"workspace_id": 1, "subject_key": "s", "participants_key": "p", "message_count": 2}
    with either_db.engine.begin() as conn:
        one, two = insert_returning_ids(conn, THREADS, [thread, dict(thread)])
        columns, keys = ("workspace_id", "message_id", "thread_id"), ("workspace_id", "message_id")
        upsert(conn, LINKS, columns, keys, [(1, "a@x", one), (1, "b@x", one)])
        upsert(conn, LINKS, columns, keys, [(1, "b@x", two), (1, "c@x", two)])
        increment(conn, THREADS, "message_count", {one: 3, two: 1})
        links = dict(conn.execute(select(LINKS.c.message_id, LINKS.c.thread_id)).all())
        counts = dict(conn.execute(select(THREADS.c.id, THREADS.c.message_count)).all())
    assert links == {"a@x": one, "b@x": two, "c@x": two}
    assert counts == {one: 5, two: 3}


def test_the_utc_day_of_a_timestamp(either_db: Database) -> None:
    """Stored in UTC (as the parser hands dates over), bucketed by the UTC day whatever the
    database session's own time zone."""
    store = MessageStore(either_db)
    stored = store.add_batch([mail("late@x", "late")])
    evening = datetime(2024, 3, 1, 23, 30, tzinfo=timezone(timedelta(hours=-2)))
    with either_db.engine.begin() as conn:
        conn.execute(MESSAGES.update().values(date=evening.astimezone(UTC)))
        if either_db.engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL TIME ZONE 'America/Sao_Paulo'")
        day = conn.execute(select(dialect_of(conn).utc_day(MESSAGES.c.date))).scalar_one()
    assert stored.new == 1
    assert str(day)[:10] == "2024-03-02" == evening.astimezone(UTC).date().isoformat()


def test_search_finds_indexed_words_as_a_list_and_as_a_condition(either_db: Database) -> None:
    store = MessageStore(either_db)
    a, b = store.add_batch([mail("a@x", "budget"), mail("b@x", "lunch")]).message_pks
    search = dialect_of(either_db.engine).search
    with either_db.engine.begin() as conn:
        search.add(conn, [SearchDoc(b, "quarterly", "carol@acme.test", "numbers")])
    with either_db.read() as conn:
        assert search.search(conn, "budget", workspace_id=1) == [a]
        assert search.search(conn, "quarterly numbers", workspace_id=1) == [b]
        assert search.search(conn, "quarterly", workspace_id=2) == []
        condition = search.condition("numbers")
        assert condition is not None
        assert conn.execute(select(MESSAGES.c.id).where(condition)).scalars().all() == [b]
    assert search.condition("  ") is None


def test_only_the_dialect_module_asks_which_database_it_talks_to() -> None:
    """Every SQLite/PostgreSQL difference is a method of ``store.dialects`` (migrations
    describe each kind's schema and keep theirs)."""
    asking = [
        f"{path.relative_to(SRC)}:{n}"
        for path in SRC.rglob("*.py")
        if "migrations" not in path.parts and path.name != "dialects.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if "dialect.name" in line or "dialects import postgresql" in line
    ]
    assert asking == []
