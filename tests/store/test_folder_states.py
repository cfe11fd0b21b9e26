"""A folder's checkpoint and its stored UIDs, as the sync engine keeps them."""

from __future__ import annotations

from sqlalchemy import select

from mailmatch.store.db import Database
from mailmatch.store.folder_states import FolderStates
from mailmatch.store.messages import Incoming, LocationKey, MessageStore
from mailmatch.store.models import Account
from mailmatch.store.tables import LOCATIONS
from tests.store.test_messages import mail


def account(db: Database) -> int:
    with db.session() as session:
        row = Account(
            name="work",
            address="me@corp.test",
            username="me@corp.test",
            smtp_username="me@corp.test",
            discovery_source="manual",
            imap_host="127.0.0.1",
            imap_port=993,
            imap_security="ssl",
            smtp_host="127.0.0.1",
            smtp_port=465,
            smtp_security="ssl",
            secret="-",
            key_id="-",
        )
        session.add(row)
        session.flush()
        return row.id


def at(item: Incoming, account_id: int, uidvalidity: int, uid: int) -> Incoming:
    item.location = LocationKey(account_id, "INBOX", uidvalidity, uid)
    return item


def test_a_checkpoint_is_created_then_moved_with_the_batch(either_db: Database) -> None:
    states = FolderStates(either_db, account(either_db))
    assert states.load("INBOX") is None
    store = MessageStore(either_db)
    store.add_batch(
        [at(mail("a@x", "a"), states.account_id, 7, 1)],
        on_commit=lambda conn: states.save(conn, "INBOX", uidvalidity=7, last_uid=1),
    )
    store.add_batch(
        [at(mail("b@x", "b"), states.account_id, 7, 2)],
        on_commit=lambda conn: states.save(conn, "INBOX", uidvalidity=7, last_uid=2),
    )
    state = states.load("INBOX")
    assert (state.uidvalidity, state.last_uid, state.uidnext) == (7, 2, None)
    assert states.known_uids("INBOX", 7) == {1, 2}
    assert FolderStates(either_db, states.account_id + 1).load("INBOX") is None


def test_a_uidvalidity_reset_remaps_known_messages_and_forgets_the_old_uids(
    either_db: Database,
) -> None:
    states = FolderStates(either_db, account(either_db))
    me = states.account_id
    first = MessageStore(either_db).add_batch(
        [at(mail("a@x", "a"), me, 7, 1), at(mail("b@x", "b"), me, 7, 2)]
    )
    states.finish("INBOX", 7, forget_old=False, last_uid=2, uidnext=3, exists=2)
    size_of_a = len(mail("a@x", "a").raw)

    assert states.previous("INBOX", 7, [("a@x", size_of_a)]) == {}  # same UIDVALIDITY: no "old"
    previous = states.previous("INBOX", 9, [("a@x", size_of_a), ("a@x", size_of_a + 1)])
    assert previous == {("a@x", size_of_a): first.message_pks[0]}
    states.remap("INBOX", 9, {40: previous[("a@x", size_of_a)]})
    states.finish("INBOX", 9, forget_old=True, last_uid=40, uidnext=41, exists=1)

    assert states.known_uids("INBOX", 7) == set()
    assert states.known_uids("INBOX", 9) == {40}
    state = states.load("INBOX")
    assert (state.uidvalidity, state.last_uid, state.uidnext, state.exists) == (9, 40, 41, 1)


def test_expunged_uids_lose_their_location_but_the_message_stays(either_db: Database) -> None:
    states = FolderStates(either_db, account(either_db))
    store = MessageStore(either_db)
    stored = store.add_batch(
        [at(mail(f"m{n}@x", f"m{n}"), states.account_id, 7, n) for n in range(1, 4)]
    )
    states.forget("INBOX", 7, {1, 3})
    assert states.known_uids("INBOX", 7) == {2}
    assert all(store.raw(pk) is not None for pk in stored.message_pks)
    with either_db.read() as conn:
        assert conn.execute(select(LOCATIONS.c.uid)).scalars().all() == [2]
