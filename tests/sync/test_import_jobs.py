"""An import and a webhook delivery as jobs: the inline runner runs them and records the runs."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from sqlalchemy import select

from mailmatch.contacts.service import RecordService
from mailmatch.imports.service import ImportService
from mailmatch.jobs import table
from mailmatch.jobs.builtin import builtin_registry
from mailmatch.jobs.runners import InlineRunner
from mailmatch.net.guard import Guard
from mailmatch.store.models import Import
from mailmatch.sync.jobs import import_job
from mailmatch.webhooks.jobs import deliver_job
from mailmatch.webhooks.service import WebhookService
from tests.servers.receiver import Receiver
from tests.sync.conftest import Mailbox, message


def test_an_import_and_a_webhook_delivery_run_as_jobs_with_their_runs_recorded(
    mailbox: Any,
) -> None:
    box: Mailbox = mailbox()
    for n in range(3):
        box.deliver(message(n))  # from alice@example.org
    db = box.accounts.db
    settings = dataclasses.replace(box.accounts.settings, allow_internal=("127.0.0.1",))
    RecordService(db).add_contact("alice@example.org", "Alice")
    ImportService(db).create("imp", "acct", ["INBOX"], None)
    with db.read() as conn:
        import_id = int(conn.scalar(select(Import.id).where(Import.name == "imp")))
    with Receiver() as receiver:
        hooks = WebhookService(db, box.accounts.vault, guard=Guard.from_settings(settings))
        hooks.add(receiver.url, "s3cret", ["message.matched"])
        runner = InlineRunner(db, settings, builtin_registry())

        imported = runner.submit(import_job(import_id, 1, "imp"))
        delivered = runner.submit(deliver_job())

        assert len(receiver.received) == 3
        events = {json.loads(body)["event"] for _headers, body in receiver.received}
        assert events == {"message.matched"}
    assert [(r.job.kind, r.state) for r in runner.ran] == [
        ("import.run", "done"),
        ("webhooks.deliver", "done"),
    ]
    assert runner.ran[0].value.new == 3 and runner.ran[1].value.delivered == 3
    first, second = table.get(db, imported), table.get(db, delivered)
    assert (first.key, first.attempts, first.result["new"]) == (f"import:{import_id}", 1, 3)
    assert first.progress == {"folders": [{"folder": "INBOX", "done": 3, "total": 3}]}
    assert second.result == {"delivered": 3, "failed": 0, "retrying": 0}
    assert [r.id for r in table.runs(db)] == [delivered, imported]
