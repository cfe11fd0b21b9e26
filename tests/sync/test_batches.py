"""Fetch batches are capped in messages and in bytes, so large mail never piles up in memory."""

from __future__ import annotations

from typing import Any

from mailmatch.store.messages import MessageStore
from mailmatch.sync.batches import RAMP, plan_batches, shared_byte_cap, small_limit
from mailmatch.sync.engine import FolderSync
from tests.sync.conftest import Mailbox, digests, message, stored


def test_batches_ramp_up_then_hold_the_message_cap() -> None:
    batches = plan_batches(list(range(1, 2001)), 400, 10**9, {})
    assert [len(b) for b in batches] == [50, 100, 200, 400, 400, 400, 400, 50]
    assert [u for b in batches for u in b] == list(range(1, 2001))  # every UID once, in order
    assert len(plan_batches([1, 2, 3], 2, 10**9, {})[0]) == 1  # batch_size // RAMP, at least 1
    assert RAMP > 1


def test_the_last_batch_is_halved_down_to_the_size_of_the_first() -> None:
    batches = plan_batches(list(range(1, 1001)), 400, 10**9, {})
    assert [len(b) for b in batches] == [50, 100, 200, 400, 125, 62, 63]
    assert [u for b in batches for u in b] == list(range(1, 1001))


def test_batches_hold_the_byte_cap_and_a_huge_message_goes_alone() -> None:
    cap = 1000
    small = small_limit(8, cap)  # 125: eight unknown (small) messages fill a batch
    sizes = {3: 600, 4: 600, 9: 5000}
    batches = plan_batches(list(range(1, 21)), 8, cap, sizes)
    for batch in batches:
        used = sum(sizes.get(u, small) for u in batch)
        assert used <= cap or len(batch) == 1
    assert [9] in batches
    assert [u for b in batches for u in b] == list(range(1, 21))


def test_a_folder_of_large_messages_is_fetched_in_byte_capped_batches(mailbox: Any) -> None:
    box: Mailbox = mailbox()
    big = "y" * 76 + "\r\n"
    for n in range(12):  # ~60 KB each, with small ones between
        box.deliver(message(n, body=big * (800 if n % 3 else 1)))
    requested: list[list[int]] = []

    class Recording(FolderSync):
        def _fetch(self, uids: list[int]) -> list[tuple[int, bytes]]:
            requested.append(uids)
            return super()._fetch(uids)

    client = box.imap()
    try:
        with box.accounts.db.read() as conn:
            account_id = conn.exec_driver_sql("SELECT id FROM accounts").scalar_one()
        store = MessageStore(box.accounts.db)
        result = Recording(client, store, account_id, batch_size=100, batch_bytes=150_000).run(
            "INBOX"
        )
        client.select_folder("INBOX", readonly=True)
        size_of = {
            uid: data[b"RFC822.SIZE"]
            for uid, data in client.fetch(client.search(["ALL"]), [b"RFC822.SIZE"]).items()
        }
    finally:
        client.logout()

    assert result.new == 12
    assert sorted(u for batch in requested for u in batch) == sorted(size_of)
    assert len(requested) > 3  # 12 messages, ~480 KB: more than one 150 KB batch
    for batch in requested:
        assert sum(size_of[u] for u in batch) <= 150_000
    assert stored(box) == digests(box.server_messages())


def test_more_parse_workers_make_smaller_batches_not_more_memory() -> None:
    mib = 1024 * 1024
    assert shared_byte_cap(32 * mib, ahead=1) == 32 * mib  # parsing in-process
    assert shared_byte_cap(32 * mib, ahead=2) == 32 * mib  # one worker: three batches at most
    assert shared_byte_cap(32 * mib, ahead=5) == 16 * mib  # four workers: six batches share
