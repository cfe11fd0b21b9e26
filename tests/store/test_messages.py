"""The message store: content-addressed, threaded, searchable, and it never loses a message."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from mailmatch.config import load_settings
from mailmatch.ingest.parse import parse_message
from mailmatch.store.db import open_database
from mailmatch.store.messages import Incoming, MessageStore
from mailmatch.store.models import Message


def store_at(tmp_path: Path) -> MessageStore:
    return MessageStore(open_database(load_settings({"MAILMATCH_HOME": str(tmp_path)})))


def mail(mid: str, subject: str, *, refs: str = "", frm: str = "ann@example.org",
         to: str = "bob@example.net", body: str = "text") -> Incoming:  # fmt: skip
    headers = f"From: {frm}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{mid}>\r\n"
    if refs:
        headers += f"In-Reply-To: <{refs.split()[-1]}>\r\nReferences: " + " ".join(
            f"<{r}>" for r in refs.split()
        ) + "\r\n"  # fmt: skip
    raw = f"{headers}\r\n{body}\r\n".encode()
    return Incoming(raw, parse_message(raw))


def threads(store: MessageStore) -> dict[str, int]:
    with store.db.session() as session:
        return {m.message_id: m.thread_id for m in session.scalars(select(Message))}


def test_same_bytes_are_stored_once(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    first = store.add_batch([mail("a@x", "hello"), mail("a@x", "hello")])
    again = store.add_batch([mail("a@x", "hello")])
    assert (first.new, first.duplicates, again.new, again.duplicates) == (1, 1, 0, 1)
    assert store.count() == 1


def test_replies_join_their_thread_even_when_they_arrive_first(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    store.add_batch([mail("c@x", "Re: plan", refs="a@x b@x")])  # the grandchild comes first
    store.add_batch([mail("z@x", "unrelated")])
    store.add_batch([mail("a@x", "plan"), mail("b@x", "Re: plan", refs="a@x")])
    t = threads(store)
    assert t["a@x"] == t["b@x"] == t["c@x"]
    assert t["z@x"] != t["a@x"]


def test_a_message_linking_two_threads_merges_them(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    store.add_batch([mail("a@x", "one", frm="p@x")])
    store.add_batch([mail("b@x", "two", frm="q@x")])
    store.add_batch([mail("c@x", "Re: both", refs="a@x b@x")])
    t = threads(store)
    assert t["a@x"] == t["b@x"] == t["c@x"]


def test_without_references_subject_and_participants_thread(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    store.add_batch([mail("a@x", "Invoice 42")])
    store.add_batch([mail("b@x", "RE: invoice 42")])  # same people, a client that drops headers
    store.add_batch([mail("c@x", "Re: Invoice 42", frm="eve@example.com")])  # other people
    t = threads(store)
    assert t["a@x"] == t["b@x"] != t["c@x"]


def test_search_finds_subject_body_and_addresses(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    store.add_batch(
        [
            mail("a@x", "Quarterly numbers", body="budget attached"),
            mail("b@x", "Lunch", frm="carol@acme.test"),
        ]
    )
    by_pk = {m: pk for m, pk in _pks(store).items()}
    assert store.search("budget") == [by_pk["a@x"]]
    assert store.search("acme") == [by_pk["b@x"]]
    assert store.search("quart*") == [by_pk["a@x"]]
    assert store.search('" OR - :') == []  # FTS syntax in user input never errors


def test_unparseable_bytes_are_stored_raw_and_counted(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    junk = b"\x00\xff\xfe not a message at all \x00"
    result = store.add_batch([Incoming(junk, parse_message(junk))])
    assert result.new == 1 and result.defective == 1
    assert store.raw(result.message_pks[0]) == junk


def _pks(store: MessageStore) -> dict[str, int]:
    with store.db.session() as session:
        return {m.message_id: m.id for m in session.scalars(select(Message))}


def test_thread_counts_follow_merges(tmp_path: Path) -> None:
    from mailmatch.store.models import Thread

    store = store_at(tmp_path)
    store.add_batch([mail("a@x", "one", frm="p@x"), mail("a2@x", "Re: one", refs="a@x")])
    store.add_batch([mail("b@x", "two", frm="q@x")])
    store.add_batch([mail("c@x", "Re: both", refs="a@x b@x")])
    with store.db.session() as session:
        counts = sorted(t.message_count for t in session.scalars(select(Thread)))
    assert counts[-1] == 4 and sum(counts) == 4
