"""A pipeline step registered by a test: it sees every stored message, from IMAP and from an
mbox, and catches up on what was stored while it was failing."""

from __future__ import annotations

import json
import mailbox as mailboxes
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlalchemy import select

from mailmatch.imports.files import import_file
from mailmatch.imports.service import ImportService
from mailmatch.pipeline.base import BacklogStep, StepContext
from mailmatch.pipeline.registry import STEPS
from mailmatch.pipeline.runner import Pipeline
from mailmatch.store.db import Database
from mailmatch.store.messages import MessageStore
from mailmatch.store.models import Message
from mailmatch.store.records import MatchState
from tests.cli import run_mailmatch
from tests.sync.conftest import Mailbox, message


class Tally(BacklogStep):
    """Counts the messages it is given; raises while ``down`` is set."""

    name = "tally"
    description = "count what the pipeline hands over"
    seen: ClassVar[list[int]] = []
    down = threading.Event()

    def run(self, message_ids: list[int]) -> None:
        if self.down.is_set():
            raise RuntimeError("the tally service is down")
        self.seen.extend(message_ids)


@pytest.fixture
def tally() -> Iterator[type[Tally]]:
    Tally.seen = []
    Tally.down.clear()

    def make(context: StepContext) -> Tally:
        return Tally(context)

    with STEPS.registered(Tally.name, make):
        yield Tally


def stored_ids(db: Database) -> list[int]:
    with db.read() as conn:
        return sorted(conn.execute(select(Message.id)).scalars())


def matched_ids(db: Database) -> list[int]:
    with db.read() as conn:
        return sorted(conn.execute(select(MatchState.message_pk)).scalars())


def write_mbox(path: Path, numbers: range) -> Path:
    box = mailboxes.mbox(path)
    for n in numbers:
        box.add(message(n))
    box.close()
    return path


def test_a_registered_step_sees_every_message_of_an_import(mailbox: Any, tally: Any) -> None:
    box: Mailbox = mailbox()
    for n in range(23):
        box.deliver(message(n))
    ImportService(box.accounts.db).create("imp", "acct", ["INBOX"], None)

    result = box.runner(batch_size=5).run("imp")

    db = box.accounts.db
    assert result.new == 23
    assert sorted(tally.seen) == stored_ids(db)  # each message once, over several batches
    assert len(tally.seen) == 23
    assert Pipeline(db).steps[-1].pending() == []


def test_a_registered_step_sees_every_message_of_an_mbox_import(
    mailbox: Any, tally: Any, tmp_path: Path
) -> None:
    db = mailbox().accounts.db
    path = write_mbox(tmp_path / "export.mbox", range(17))

    result = import_file(MessageStore(db), path, batch_size=4, pipeline=Pipeline(db))

    assert result.new == 17
    assert sorted(tally.seen) == stored_ids(db) and len(tally.seen) == 17


def test_a_failing_step_loses_no_mail_and_catches_up_on_the_next_import(
    mailbox: Any, tally: Any
) -> None:
    box: Mailbox = mailbox()
    db = box.accounts.db
    for n in range(12):
        box.deliver(message(n))
    ImportService(db).create("imp", "acct", ["INBOX"], None)
    tally.down.set()

    failing = box.runner(batch_size=5).run("imp")

    # The import went on: everything stored and matched, only the failing step owes them.
    assert (failing.state, failing.new) == ("ok", 12)
    assert matched_ids(db) == stored_ids(db)
    assert tally.seen == []
    step = Pipeline(db).steps[-1]
    assert step.name == "tally" and step.pending() == stored_ids(db)
    status = json.loads(run_mailmatch(box.home, "pipeline", "status", "--json").stdout)
    pending = [(s["name"], s["pending"]) for s in status]
    assert pending == [("match", 0), ("sort", 0), ("webhooks", 0)]
    # (a separate process has no test step: only the built-in ones, with nothing pending)

    tally.down.clear()
    for n in range(12, 15):
        box.deliver(message(n))
    again = box.runner(batch_size=5).run("imp")

    assert again.new == 3
    assert sorted(tally.seen) == stored_ids(db) and len(tally.seen) == 15
    assert step.pending() == []


def test_a_step_failing_during_an_mbox_import_catches_up_when_asked(
    mailbox: Any, tally: Any, tmp_path: Path
) -> None:
    db = mailbox().accounts.db
    tally.down.set()
    path = write_mbox(tmp_path / "a.mbox", range(9))
    assert import_file(MessageStore(db), path, batch_size=4, pipeline=Pipeline(db)).new == 9
    pipeline = Pipeline(db)
    (status,) = [s for s in pipeline.status() if s.name == "tally"]
    assert (status.pending, status.failing_batches) == (9, 3)
    assert status.last_error == "RuntimeError: the tally service is down"

    tally.down.clear()
    report = pipeline.catch_up()

    assert (report.batches, report.messages, report.failed) == (3, 9, [])
    assert sorted(tally.seen) == stored_ids(db)
    assert [s.pending for s in pipeline.status()] == [0] * len(pipeline.status())
