"""Editing and removing contacts, companies and deals: the mail moves with them.

Each test stores a handful of messages, makes records, changes one and then looks at what
every message became (its status, its links and their reasons), not at the records alone.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import select, text

from mailmatch.config import load_settings
from mailmatch.contacts.service import RecordService
from mailmatch.errors import AlreadyExists, InvalidInput, NotFound
from mailmatch.ingest.parse import parse_message
from mailmatch.matching.service import MatchService
from mailmatch.store.db import Database, open_database
from mailmatch.store.messages import Incoming, MessageStore
from mailmatch.store.records import MatchState, MessageLink


def mail(n: int, frm: str, to: str = "me@mycorp.test", cc: str = "") -> Incoming:
    raw = (
        f"From: {frm}\r\nTo: {to}\r\n"
        + (f"Cc: {cc}\r\n" if cc else "")
        + f"Subject: note {n}\r\nMessage-ID: <n{n}@x>\r\nDate: Mon, 2 Sep 2002 10:00:00 +0000\r\n"
        f"\r\nbody {n}\r\n"
    ).encode()
    return Incoming(raw, parse_message(raw))


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return open_database(load_settings({"MAILMATCH_HOME": str(tmp_path / "home")}))


@pytest.fixture
def notes(db: Database) -> dict[int, int]:
    """Message n (1-6) -> its id; all matched, against no record yet."""
    stored = MessageStore(db).add_batch(
        [
            mail(1, "Bob Smith <bob@acme.test>"),
            mail(2, "ann@other.test", cc="bob@acme.test"),
            mail(3, "sales@acme.test"),
            mail(4, "bob@newco.test"),
            mail(5, "ann@other.test"),
            mail(6, "noreply@service.test"),
        ]
    )
    MatchService(db).match_messages(stored.message_pks)
    return dict(zip(range(1, 7), stored.message_pks, strict=True))


def state_of(db: Database, pk: int) -> tuple[str, str | None, list[tuple[str, int, str]]]:
    """(status, unmatched sender, [(record type, record id, reason)]) of one message."""
    with db.read() as conn:
        status, sender = conn.execute(
            select(MatchState.status, MatchState.unmatched_sender).where(
                MatchState.message_pk == pk
            )
        ).one()
        links = conn.execute(
            select(MessageLink.record_type, MessageLink.record_id, MessageLink.reason)
            .where(MessageLink.message_pk == pk)
            .order_by(MessageLink.record_type, MessageLink.record_id)
        ).all()
    return status, sender, [tuple(link) for link in links]  # type: ignore[misc]


def test_editing_a_contacts_address_moves_its_matched_mail(
    db: Database, notes: dict[int, int]
) -> None:
    records = RecordService(db)
    bob = records.add_contact("bob@acme.test", "Bob Smith").record["id"]
    assert state_of(db, notes[1])[0] == "matched"

    change = records.edit_contact(bob, emails=["bob@newco.test"])

    assert change.record["emails"] == ["bob@newco.test"]
    assert change.rematched == 3  # his two old messages and the new one, nothing else
    assert state_of(db, notes[1]) == ("unmatched", "bob@acme.test", [])
    assert state_of(db, notes[2]) == ("unmatched", "ann@other.test", [])
    assert state_of(db, notes[4]) == (
        "matched",
        None,
        [("contact", bob, "From address bob@newco.test belongs to contact Bob Smith")],
    )
    renamed = records.edit_contact(bob, name="Robert Smith")
    assert renamed.rematched == 1
    assert "belongs to contact Robert Smith" in state_of(db, notes[4])[2][0][2]
    assert records.show_contact("bob@newco.test")["contact"]["name"] == "Robert Smith"
    with pytest.raises(NotFound):
        records.show_contact("bob@acme.test")


def test_a_contact_keeps_at_least_one_address_and_never_takes_anothers(
    db: Database, notes: dict[int, int]
) -> None:
    records = RecordService(db)
    bob = records.add_contact("bob@acme.test", "Bob").record["id"]
    records.add_contact("ann@other.test", "Ann")
    with pytest.raises(InvalidInput, match="at least one email address"):
        records.edit_contact(bob, emails=[])
    with pytest.raises(AlreadyExists, match=r"ann@other\.test"):
        records.edit_contact(bob, emails=["bob@acme.test", "ann@other.test"])
    assert records.show_contact("bob@acme.test")["contact"]["emails"] == ["bob@acme.test"]


def test_deleting_a_company_unlinks_its_mail(db: Database, notes: dict[int, int]) -> None:
    records = RecordService(db)
    acme = records.add_company("Acme", ["acme.test"]).record["id"]
    bob = records.add_contact("bob@acme.test", "Bob Smith", "Acme").record["id"]
    deal = records.add_deal("Renewal", company="Acme").record["id"]
    assert ("company", acme) in [link[:2] for link in state_of(db, notes[3])[2]]

    change = records.remove_company(acme)

    assert change.rematched == 3  # Bob's two messages and sales@acme.test's
    # sales@ matched only through the domain: now nobody's, back in the queue
    assert state_of(db, notes[3]) == ("unmatched", "sales@acme.test", [])
    # Bob's mail still matches Bob, with his reason, and no longer the company or its deal
    assert state_of(db, notes[1]) == (
        "matched",
        None,
        [("contact", bob, "From address bob@acme.test belongs to contact Bob Smith")],
    )
    assert state_of(db, notes[2])[2] == [
        ("contact", bob, "Cc address bob@acme.test belongs to contact Bob Smith")
    ]
    assert records.show_contact("bob@acme.test")["contact"]["company"] is None
    assert records.companies() == []
    assert records.edit_deal(deal, stage="won").record["company"] is None
    assert MatchService(db).stats().to_json() == {"matched": 2, "unmatched": 4, "ignored": 0}


def test_removing_a_contact_leaves_its_mail_to_what_else_it_concerns(
    db: Database, notes: dict[int, int]
) -> None:
    records = RecordService(db)
    acme = records.add_company("Acme", ["acme.test"]).record["id"]
    bob = records.add_contact("bob@acme.test", "Bob Smith", "Acme").record["id"]
    records.add_deal("Renewal", contacts=["bob@acme.test"])

    change = records.remove_contact(bob)

    assert change.rematched == 2
    assert state_of(db, notes[1]) == (
        "matched",
        None,
        [("company", acme, "From address bob@acme.test is at acme.test, a domain of Acme")],
    )
    assert records.contacts() == []
    with pytest.raises(NotFound):
        records.remove_contact(bob)


def test_editing_a_company_and_a_deal_moves_their_links(
    db: Database, notes: dict[int, int]
) -> None:
    records = RecordService(db)
    acme = records.add_company("Acme", ["acme.test"]).record["id"]
    records.add_contact("ann@other.test", "Ann")
    records.add_contact("bob@newco.test", "Bob")
    deal = records.add_deal("Renewal", contacts=["ann@other.test"]).record["id"]

    moved = records.edit_company(acme, name="NewCo", domains=["newco.test"])
    assert moved.record == {"id": acme, "name": "NewCo", "domains": ["newco.test"]}
    assert state_of(db, notes[3]) == ("unmatched", "sales@acme.test", [])
    assert ("company", acme) in [link[:2] for link in state_of(db, notes[4])[2]]

    edited = records.edit_deal(deal, contacts=["bob@newco.test"], title="Renewal 2003")
    assert edited.record["contacts"] == ["bob@newco.test"]
    assert [link[0] for link in state_of(db, notes[5])[2]] == ["contact"]  # Ann: no deal now
    deal_links = [link for link in state_of(db, notes[4])[2] if link[0] == "deal"]
    assert deal_links == [
        ("deal", deal, "From address bob@newco.test is Bob, a contact on deal Renewal 2003")
    ]
    records.edit_deal(deal, is_open=False)  # a closed deal links no mail
    assert [link[0] for link in state_of(db, notes[4])[2]] == ["company", "contact"]
    assert records.remove_deal(deal).record["title"] == "Renewal 2003"
    with pytest.raises(NotFound):
        records.edit_deal(deal, title="x")


def test_records_are_found_by_the_names_the_cli_uses(db: Database) -> None:
    records = RecordService(db)
    acme = records.add_company("Acme", ["acme.test"]).record["id"]
    bob = records.add_contact("bob@acme.test", "Bob").record["id"]
    first = records.add_deal("Renewal").record["id"]
    assert records.find_contact("Bob@Acme.test") == bob == records.find_contact(str(bob))
    assert records.find_company("Acme") == acme == records.find_company(str(acme))
    assert records.find_deal("Renewal") == first
    records.add_deal("Renewal")
    with pytest.raises(InvalidInput, match="2 deals are titled"):
        records.find_deal("Renewal")
    assert records.find_deal(str(first)) == first
    other = RecordService(db, workspace_id=_other_workspace(db))
    with pytest.raises(NotFound):
        other.find_contact(str(bob))
    with pytest.raises(NotFound):
        other.remove_company(acme)


def _other_workspace(db: Database) -> int:
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO workspaces (name, created_at) VALUES ('other', '2026')"))
        return int(conn.execute(text("SELECT id FROM workspaces WHERE name='other'")).scalar_one())


def test_listing_records_does_not_wait_for_an_import_holding_the_write_lock(
    db: Database, notes: dict[int, int]
) -> None:
    records = RecordService(db)
    records.add_contact("bob@acme.test", "Bob", "Acme")
    with db.engine.connect() as writer:
        writer.begin()  # BEGIN IMMEDIATE, as every store batch does
        writer.execute(text("UPDATE imports SET state = state"))
        started = time.monotonic()
        assert [c["name"] for c in records.contacts()] == ["Bob"]
        assert [c["name"] for c in records.companies()] == ["Acme"]
        assert len(records.show_contact("bob@acme.test")["messages"]) == 2
        took = time.monotonic() - started
        writer.rollback()
    assert took < 5  # a write-locking read would wait for the 30 s busy timeout
