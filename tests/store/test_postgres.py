"""The same store on PostgreSQL (``MAILMATCH_DATABASE_URL``): migrations, dedupe, threads,
search, matching and an import from Dovecot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from mailmatch.config import load_settings
from mailmatch.contacts.service import RecordService
from mailmatch.store.db import open_database
from mailmatch.store.messages import MessageStore
from mailmatch.store.models import Base, include_object
from tests.store.test_messages import mail, threads


def pg_store(postgres: Any, tmp_path: Path) -> MessageStore:
    settings = load_settings(
        {"MAILMATCH_HOME": str(tmp_path), "MAILMATCH_DATABASE_URL": postgres.new_database()}
    )
    return MessageStore(open_database(settings))


def test_migrations_build_the_schema_on_postgresql(postgres: Any, tmp_path: Path) -> None:
    store = pg_store(postgres, tmp_path)
    with store.db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": include_object})
        diff = [d for d in compare_metadata(context, Base.metadata) if "search" not in str(d)]
    assert diff == []


def test_dedupe_threads_and_search_on_postgresql(postgres: Any, tmp_path: Path) -> None:
    store = pg_store(postgres, tmp_path)
    first = store.add_batch(
        [mail("a@x", "plan", body="budget numbers"), mail("a@x", "plan", body="budget numbers")]
    )
    store.add_batch([mail("c@x", "Re: plan", refs="a@x b@x")])
    store.add_batch([mail("b@x", "Re: plan", refs="a@x")])
    assert (first.new, first.duplicates) == (1, 1)
    t = threads(store)
    assert t["a@x"] == t["b@x"] == t["c@x"]
    assert store.search("budget") == [first.message_pks[0]]
    assert store.raw(first.message_pks[0]) is not None


def test_matching_on_postgresql(postgres: Any, tmp_path: Path) -> None:
    store = pg_store(postgres, tmp_path)
    stored = store.add_batch([mail("m1@x", "hello", frm="carol@acme.test")])
    records = RecordService(store.db)
    records.matches.match_messages(stored.message_pks)
    change = records.add_contact("carol@acme.test", "Carol")
    assert change.rematched == 1
    assert [m["reason"] for m in records.show_contact("carol@acme.test")["messages"]] == [
        "From address carol@acme.test belongs to contact Carol"
    ]


def test_two_writers_storing_the_same_messages_at_once_on_postgresql(
    postgres: Any, tmp_path: Path
) -> None:
    import threading

    store = pg_store(postgres, tmp_path)
    batch = [mail(f"p{n}@x", f"same {n}") for n in range(50)]
    errors: list[BaseException] = []

    def write() -> None:
        try:
            store.add_batch(batch)
        except BaseException as exc:  # pragma: no cover - what the test is about
            errors.append(exc)

    threads_ = [threading.Thread(target=write) for _ in range(4)]
    for t in threads_:
        t.start()
    for t in threads_:
        t.join()
    assert errors == []
    assert store.count() == 50
