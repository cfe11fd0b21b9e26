"""``mailmatch export`` as a user runs it, twice: folders are kept, nothing is written twice."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from mailmatch.accounts.service import AccountService, NewAccount, ServerOverride
from mailmatch.config import load_settings
from mailmatch.files import iter_messages
from mailmatch.ingest.parse import parse_message
from mailmatch.providers.models import Security
from mailmatch.store.messages import Incoming, LocationKey, MessageStore
from mailmatch.store.models import Account
from tests.cli import run_mailmatch


def mail(n: int) -> bytes:
    return (
        b"From: a@example.org\r\nSubject: %d\r\nMessage-ID: <%d@x>\r\n"
        b"Date: Mon, 02 Sep 2002 10:%02d:00 +0000\r\n\r\nFrom the start %d\r\n" % (n, n, n, n)
    )


class Home:
    """A data home whose store holds mail imported from three IMAP folders and from a file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        settings = load_settings({"MAILMATCH_HOME": str(path)})
        accounts = AccountService.open(settings)
        accounts.add(
            NewAccount(
                address="me@example.org",
                name="acct",
                imap=ServerOverride("localhost", 993, Security.SSL),
                smtp=ServerOverride("localhost", 465, Security.SSL),
            ),
            "app-password",
            test=False,
        )
        self.store = MessageStore(accounts.db)
        with accounts.db.session() as session:
            self.account_id = session.scalars(select(Account.id)).one()
        self.uid = 0

    def store_mail(self, n: int, *folders: str) -> None:
        raw = mail(n)
        items = []
        for folder in folders or (None,):
            self.uid += 1
            key = LocationKey(self.account_id, folder, 1, self.uid) if folder else None
            items.append(Incoming(raw, parse_message(raw), key))
        self.store.add_batch(items)

    def export(self, *args: str) -> Any:
        result = run_mailmatch(self.path, "export", *args, "--json")
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)


@pytest.fixture
def home(tmp_path: Path) -> Home:
    home = Home(tmp_path / "home")
    home.store_mail(1, "INBOX")
    home.store_mail(2, "INBOX", "Archive/2024")  # one message, two folders on the server
    home.store_mail(3, "Sent")
    home.store_mail(4, "Archive/2024")
    home.store_mail(5)  # from import-file: no folder
    return home


def test_a_maildir_export_keeps_the_folders_and_a_second_one_adds_nothing(
    home: Home, tmp_path: Path
) -> None:
    dest = tmp_path / "backup"
    first = home.export("maildir", str(dest))
    assert first["exported"] == 6  # message 2 in both of its folders
    assert (first["written"], first["skipped"]) == (6, 0)
    assert [(f["folder"], f["path"], f["written"]) for f in first["folders"]] == [
        ("INBOX", ".", 3),
        ("Archive/2024", ".Archive.2024", 2),
        ("Sent", ".Sent", 1),
    ]
    for maildir in (dest, dest / ".Sent", dest / ".Archive.2024"):
        assert sorted(p.name for p in maildir.iterdir() if not p.name.startswith(".")) == (
            ["cur", "maildirfolder", "new", "tmp"] if maildir != dest else ["cur", "new", "tmp"]
        )
    found = sorted((m.folder or "INBOX", m.raw) for m in iter_messages(dest))
    assert found == sorted(
        [("INBOX", mail(1)), ("INBOX", mail(2)), ("Archive/2024", mail(2)), ("Sent", mail(3)),
         ("Archive/2024", mail(4)), ("INBOX", mail(5))]
    )  # fmt: skip

    # A mail client opens the backup: new/ -> cur/ with the seen flag. Still the same messages.
    for path in list((dest / ".Sent" / "new").iterdir()):
        path.rename(dest / ".Sent" / "cur" / f"{path.name}:2,S")
    second = home.export("maildir", str(dest))
    assert (second["written"], second["skipped"]) == (0, 6)
    assert len(list(iter_messages(dest))) == 6

    home.store_mail(6, "Sent")
    third = run_mailmatch(home.path, "export", "maildir", str(dest))
    assert third.returncode == 0, third.stderr
    assert "Exported 1 messages" in third.stdout and "6 were there already" in third.stdout
    assert "  Sent (.Sent): 1 written, 1 already there" in third.stdout
    assert len(list(iter_messages(dest))) == 7


def test_an_mbox_export_again_appends_only_what_is_new(home: Home, tmp_path: Path) -> None:
    dest = tmp_path / "backup.mbox"
    assert home.export("mbox", str(dest))["exported"] == 5  # one message once, whatever folders
    before = dest.read_bytes()
    again = home.export("mbox", str(dest))
    assert (again["written"], again["skipped"]) == (0, 5)
    assert dest.read_bytes() == before
    home.store_mail(6, "Sent")
    assert home.export("mbox", str(dest))["written"] == 1
    assert dest.read_bytes().startswith(before)
    assert [m.raw for m in iter_messages(dest)] == [mail(n) for n in range(1, 7)]


def test_an_mbox_that_mailmatch_did_not_write_is_left_alone(home: Home, tmp_path: Path) -> None:
    theirs = tmp_path / "Inbox"  # a Thunderbird folder, say
    theirs.write_bytes(b"From - Mon Jan  1 00:00:00 2024\nSubject: mine\n\nkeep me\n\n")
    result = run_mailmatch(home.path, "export", "mbox", str(theirs), "--json")
    assert result.returncode == 1
    assert "was not written by mailmatch" in json.loads(result.stdout)["error"]["message"]
    assert theirs.read_bytes() == b"From - Mon Jan  1 00:00:00 2024\nSubject: mine\n\nkeep me\n\n"
