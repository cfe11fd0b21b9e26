"""Webhooks delivered to a real local HTTP server, signed, and retried when it answers 500."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from mailmatch.accounts.vault import Vault
from mailmatch.config import load_settings
from mailmatch.contacts.rules import RuleService
from mailmatch.contacts.service import RecordService
from mailmatch.ingest.parse import parse_message
from mailmatch.net.guard import Guard
from mailmatch.store.db import open_database
from mailmatch.store.messages import Incoming, MessageStore
from mailmatch.webhooks.service import WebhookService
from tests.servers.receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def mail(n: int, frm: str, body: str = "hi") -> Incoming:
    headers = f"From: {frm}\r\nTo: me@mycorp.test\r\nSubject: s{n}\r\nMessage-ID: <w{n}@x>\r\n"
    raw = f"{headers}\r\n{body}\r\n"
    return Incoming(raw.encode(), parse_message(raw.encode()))


def test_matched_mail_is_posted_signed_and_retried_after_a_500(
    tmp_path: Path, receiver: Receiver
) -> None:
    # The receiver is on loopback, which webhooks may reach only when an administrator opens it.
    settings = load_settings(
        {"MAILMATCH_HOME": str(tmp_path), "MAILMATCH_ALLOW_INTERNAL": "127.0.0.1"}
    )
    db = open_database(settings)
    hooks = WebhookService(db, Vault.from_settings(settings), guard=Guard.from_settings(settings))
    hooks.add(receiver.url, "s3cret", ["message.matched"])
    stored = MessageStore(db).add_batch([mail(1, "carol@acme.test"), mail(2, "x@other.test")])
    records = RecordService(db)
    records.matches.match_messages(stored.message_pks)
    records.add_contact("carol@acme.test", "Carol")
    receiver.statuses = [500]

    first = hooks.deliver_due(backoff=timedelta(0))
    second = hooks.deliver_due(backoff=timedelta(0))

    assert (first.retrying, second.delivered) == (1, 1)
    assert len(receiver.received) == 2  # the same delivery, twice
    headers, body = receiver.received[-1]
    payload = json.loads(body)
    assert payload["event"] == "message.matched"
    assert payload["links"][0]["reason"] == "From address carol@acme.test belongs to contact Carol"
    expected = hmac.new(
        b"s3cret", headers["X-Mailmatch-Timestamp"].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    assert headers["X-Mailmatch-Signature"] == f"sha256={expected}"
    log = hooks.log(1)
    assert [(d["status"], d["attempts"]) for d in log] == [("delivered", 2)]


def test_forwarded_mail_lands_on_the_original_senders_record(tmp_path: Path) -> None:
    db = open_database(load_settings({"MAILMATCH_HOME": str(tmp_path)}))
    records = RecordService(db)
    RuleService(db).add_rule("domain", "mycorp.test")  # our own people
    records.add_contact("dave@customer.test", "Dave")
    body = (
        "FYI, see below.\r\n\r\n---------- Forwarded message ---------\r\n"
        "From: Dave Customer <dave@customer.test>\r\nDate: Mon, 2 Sep 2002\r\n"
        "Subject: broken order\r\n\r\nIt does not work.\r\n"
    )
    stored = MessageStore(db).add_batch([mail(7, "colleague@mycorp.test", body)])
    records.matches.match_messages(stored.message_pks)

    timeline = records.show_contact("dave@customer.test")["messages"]

    assert [m["reason"] for m in timeline] == [
        "Forwarded message from dave@customer.test belongs to contact Dave"
    ]
