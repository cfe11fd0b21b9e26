"""Fixtures for import tests: a fresh Dovecot mailbox and a mailmatch account pointing at it."""

from __future__ import annotations

import hashlib
import itertools
import ssl
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient

from mailmatch.accounts.service import AccountService, NewAccount, ServerOverride
from mailmatch.config import load_settings
from mailmatch.providers.models import Security
from mailmatch.store.messages import MessageStore
from mailmatch.sync.runner import ImportRunner, RunnerOptions

_counter = itertools.count(1)


def message(n: int, *, subject: str | None = None, body: str = "hello", extra: str = "") -> bytes:
    """A small, valid, unique message."""
    return (
        f"From: Alice <alice@example.org>\r\nTo: bob@example.net\r\n"
        f"Subject: {subject or f'message {n}'}\r\nMessage-ID: <m{n}@test>\r\n"
        f"Date: Mon, 02 Sep 2002 10:{n % 60:02d}:00 +0000\r\n{extra}\r\n{body} {n}\r\n"
    ).encode()


def digests(raws: list[bytes]) -> Counter[str]:
    """A multiset of message hashes: equal when two sides hold the same messages, none twice."""
    return Counter(hashlib.sha256(r).hexdigest() for r in raws)


def stored(box: Mailbox) -> Counter[str]:
    return digests([raw for _pk, _date, raw in MessageStore(box.accounts.db).iter_raw()])


@dataclass
class Mailbox:
    """One Dovecot user, the mailmatch home that imports it, and helpers to look at both."""

    dovecot: Any
    address: str
    password: str
    home: Path
    accounts: AccountService

    def deliver(self, raw: bytes, folder: str = "INBOX") -> None:
        self.dovecot.deliver(self.address, raw, folder)

    def imap(self) -> IMAPClient:
        ctx = ssl.create_default_context(cafile=str(self.dovecot.ca_file))
        client = IMAPClient(self.dovecot.host, port=self.dovecot.imaps_port, ssl_context=ctx)
        client.login(self.address, self.password)
        return client

    def server_messages(self, folders: tuple[str, ...] = ("INBOX",)) -> list[bytes]:
        """The bytes the server serves, in every folder given (read-only, BODY.PEEK)."""
        found = []
        with self.imap() as client:
            for folder in folders:
                client.select_folder(folder, readonly=True)
                uids = client.search(["ALL"])
                for start in range(0, len(uids), 500):
                    data = client.fetch(uids[start : start + 500], [b"BODY.PEEK[]"])
                    found += [d[b"BODY[]"] for d in data.values()]
        return found

    def seen_count(self, folder: str = "INBOX") -> int:
        with self.imap() as client:
            client.select_folder(folder, readonly=True)
            return len(client.search(["SEEN"]))

    def runner(self, **options: Any) -> ImportRunner:
        return ImportRunner(self.accounts, RunnerOptions(**options), sleep=lambda _s: None)


@pytest.fixture
def mailbox(tmp_path: Path, dovecot: Any) -> Iterator[Callable[..., Mailbox]]:
    """``mailbox()``: a new empty Dovecot user with a connected account named ``acct``
    (``home``: where its mailmatch home goes, by default under ``tmp_path``)."""

    def make(port: int | None = None, home: Path | None = None) -> Mailbox:
        n = next(_counter)
        address, password = f"import{n}-{tmp_path.name[-8:]}@example.com", f"pass-{n}-word"
        dovecot.add_user(address, password)
        home = home or tmp_path / f"home{n}"
        settings = load_settings({"MAILMATCH_HOME": str(home), "MAILMATCH_CONNECT_TIMEOUT": "5"})
        accounts = AccountService.open(settings)
        accounts.add(
            NewAccount(
                address=address,
                name="acct",
                imap=ServerOverride("localhost", port or dovecot.imaps_port, Security.SSL),
                smtp=ServerOverride("localhost", 465, Security.SSL),
                ca_file=str(dovecot.ca_file),
            ),
            password,
            test=False,
        )
        return Mailbox(dovecot, address, password, home, accounts)

    yield make
