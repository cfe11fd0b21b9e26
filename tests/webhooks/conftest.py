"""Webhook tests: a home, receivers on loopback, and the local DNS server of the discovery
tests (names resolve only through it: ``MAILMATCH_DNS_SERVER``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mailmatch.accounts.vault import Vault
from mailmatch.config import Settings, load_settings
from mailmatch.contacts.service import RecordService
from mailmatch.ingest.parse import parse_message
from mailmatch.net.guard import Guard
from mailmatch.pipeline.runner import Pipeline
from mailmatch.pipeline.writer import BatchWriter
from mailmatch.store.db import Database, open_database
from mailmatch.store.messages import Incoming, MessageStore
from mailmatch.webhooks.service import WebhookService
from tests.providers.conftest import LocalDns, dns_server  # noqa: F401  (a fixture)
from tests.servers.receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


@pytest.fixture
def settings_for(tmp_path: Path, dns_server: LocalDns) -> Callable[..., Settings]:  # noqa: F811
    """``settings_for(allow="127.0.0.1")``: one home, names resolved by the local DNS server."""

    def make(allow: str = "") -> Settings:
        return load_settings(
            {
                "MAILMATCH_HOME": str(tmp_path / "home"),
                "MAILMATCH_DNS_SERVER": dns_server.address,
                "MAILMATCH_CONNECT_TIMEOUT": "2",
                "MAILMATCH_ALLOW_INTERNAL": allow,
            }
        )

    return make


def hooks_for(settings: Settings, db: Database | None = None) -> WebhookService:
    return WebhookService(
        db or open_database(settings),
        Vault.from_settings(settings),
        guard=Guard.from_settings(settings),
    )


def queue_matched_mail(db: Database, count: int, start: int = 0) -> None:
    """Store ``count`` messages from a known contact: one ``message.matched`` each."""
    records = RecordService(db)
    if start == 0:  # the first batch brings the contact
        records.add_contact("carol@acme.test", "Carol")
    raws = [
        f"From: carol@acme.test\r\nTo: me@mycorp.test\r\nSubject: s{n}\r\n"
        f"Message-ID: <hook{n}@x>\r\n\r\nhello {n}\r\n".encode()
        for n in range(start, start + count)
    ]
    writer = BatchWriter(MessageStore(db), Pipeline(db))  # stored, matched, webhooks queued
    writer.write([Incoming(r, parse_message(r)) for r in raws])
