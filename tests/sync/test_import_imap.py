"""Importing a real Dovecot mailbox: exactly once, nothing changed on the server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from mailmatch.files.readers import iter_messages
from mailmatch.imports.export import export
from mailmatch.imports.service import ImportService
from mailmatch.store.messages import MessageStore
from mailmatch.store.models import Location, Message
from mailmatch.sync.runner import ImportRunner
from tests.sync.conftest import Mailbox, digests, message, stored


def folders_holding(box: Mailbox, message_id: str) -> list[str]:
    with box.accounts.db.session() as session:
        rows = session.execute(
            select(Location.folder)
            .join(Message, Message.id == Location.message_pk)
            .where(Message.message_id == message_id)
        )
        return sorted(r[0] for r in rows)


def create(box: Mailbox, name: str = "imp", folders: list[str] | None = None) -> None:
    ImportService(box.accounts.db).create(name, "acct", folders, None)


def test_import_inbox_and_sent_then_nothing_new(mailbox: Any) -> None:
    box: Mailbox = mailbox()
    for n in range(30):
        box.deliver(message(n))
    for n in range(30, 35):
        box.deliver(message(n), folder="Sent")
    box.deliver(message(99), folder="Junk")  # never read unless asked
    create(box)

    first = box.runner(batch_size=7).run("imp").to_json()

    assert first["state"] == "ok", first
    assert [f["name"] for f in first["folders"]] == ["INBOX", "Sent"]
    assert first["new"] == 35 and first["skipped_duplicates"] == 0
    assert stored(box) == digests(box.server_messages(("INBOX", "Sent")))
    assert box.seen_count() == 0

    second = box.runner().run("imp").to_json()
    assert second["new"] == 0
    assert [f["strategy"] for f in second["folders"]] == ["none", "none"]

    box.deliver(message(100))
    third = box.runner().run("imp").to_json()
    assert third["new"] == 1
    assert third["folders"][0]["strategy"] == "new"


def test_a_message_in_two_folders_is_stored_once(mailbox: Any) -> None:
    box: Mailbox = mailbox()
    box.deliver(message(1))
    box.deliver(message(1), folder="Sent")
    create(box)
    result = box.runner().run("imp").to_json()
    assert result["new"] == 1 and result["skipped_duplicates"] == 1
    assert MessageStore(box.accounts.db).count() == 1


def test_a_message_moved_between_folders(mailbox: Any) -> None:
    box: Mailbox = mailbox()
    for n in range(5):
        box.deliver(message(n))
    with box.imap() as client:
        client.create_folder("Archive")
    create(box, folders=["INBOX", "Archive"])
    box.runner().run("imp")
    with box.imap() as client:
        client.select_folder("INBOX")
        client.move(client.search(["HEADER", "Message-ID", "<m3@test>"]), "Archive")

    result = box.runner().run("imp").to_json()

    assert result["new"] == 0
    assert MessageStore(box.accounts.db).count() == 5
    assert stored(box) == digests(box.server_messages(("INBOX", "Archive")))
    assert folders_holding(box, "m3@test") == ["Archive"]


def test_uidvalidity_reset_remaps_without_duplicates(mailbox: Any) -> None:
    box: Mailbox = mailbox()
    for n in range(20):
        box.deliver(message(n))
    create(box)
    box.runner().run("imp")
    box.dovecot.reset_uidvalidity(box.address, "INBOX")
    box.deliver(message(20))

    result = box.runner().run("imp").to_json()

    inbox = result["folders"][0]
    assert inbox["strategy"] == "uidvalidity_reset"
    assert inbox["remapped"] == 20 and inbox["new"] == 1
    assert stored(box) == digests(box.server_messages(("INBOX", "Sent")))
    view = ImportService(box.accounts.db).get("imp")
    assert sum(1 for s in view.folder_states if s["folder"] == "INBOX") == 1


def test_export_gives_back_every_message_byte_for_byte(mailbox: Any, tmp_path: Path) -> None:
    box: Mailbox = mailbox()
    for n in range(10):
        box.deliver(message(n, body="From the start\r\n>From quoted\r\nend"))
    create(box)
    box.runner().run("imp")
    store = MessageStore(box.accounts.db)
    server = digests(box.server_messages(("INBOX",)))
    for kind in ("maildir", "mbox"):
        dest = tmp_path / f"out-{kind}"
        assert export(store, kind, dest) == 10
        assert digests([m.raw for m in iter_messages(dest)]) == server


def test_two_runs_of_one_import_never_overlap(mailbox: Any) -> None:
    import threading

    from mailmatch.sync.runner import AlreadyRunning

    box: Mailbox = mailbox()
    for n in range(200):
        box.deliver(message(n))
    create(box)
    outcomes: list[str] = []

    def run() -> None:
        try:
            ImportRunner(box.accounts).run("imp")
            outcomes.append("ran")
        except AlreadyRunning:
            outcomes.append("refused")

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert "ran" in outcomes
    assert stored(box) == digests(box.server_messages(("INBOX", "Sent")))
