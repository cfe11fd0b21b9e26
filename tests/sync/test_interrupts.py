"""Ctrl-C on ``mailmatch imports run``, sent as a terminal sends it: SIGINT to the whole
process group (the command and its parse workers)."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from mailmatch.imports.service import ImportService
from mailmatch.store.db import make_engine
from mailmatch.store.messages import MessageStore
from mailmatch.store.models import Message
from tests.cli import run_mailmatch
from tests.processes import in_session, kill, processes, wait_gone
from tests.sync.conftest import Mailbox, digests, message, stored

TOTAL = 3000  # generated: enough for a parse worker and for many batches of 50


def stored_count(box: Mailbox) -> int:
    # db.read(): a plain BEGIN, which never queues behind the import's write lock.
    with box.accounts.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(Message)).scalar_one())


def test_ctrl_c_stops_within_seconds_records_what_was_stored_and_the_next_run_finishes(
    mailbox: Any,
) -> None:
    box: Mailbox = mailbox()
    for n in range(TOTAL):
        box.deliver(message(n, body="x" * random.Random(n).randint(200, 3000)))
    ImportService(box.accounts.db).create("imp", "acct", ["INBOX"], None)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILMATCH_")}
    env |= {"MAILMATCH_HOME": str(box.home), "MAILMATCH_FETCH_BATCH": "50"}

    proc = subprocess.Popen(
        [sys.executable, "-m", "mailmatch", "imports", "run", "imp"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None and stored_count(box) < 500:
            time.sleep(0.02)  # in full swing: batches fetched, parsed and stored at once
        assert proc.poll() is None, "the import ended before it could be interrupted"
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C
        interrupted_at = time.monotonic()
        out, errors = proc.communicate(timeout=20)
        took = time.monotonic() - interrupted_at
        assert wait_gone(in_session(proc.pid)) == []  # workers included
    finally:
        kill(processes(in_session(proc.pid)))
        if proc.poll() is None:
            proc.communicate()

    assert took < 3, f"took {took:.1f}s to stop"
    assert proc.returncode == 130, out + errors  # the shell's code for "ended by SIGINT"
    assert "Traceback" not in errors and "KeyboardInterrupt" not in errors, errors
    kept = MessageStore(box.accounts.db).count()
    assert 0 < kept < TOTAL
    shown = ImportService(box.accounts.db).get("imp").to_json()
    assert shown["state"] == "interrupted"
    assert shown["last_run"]["new"] == kept
    assert [(f["name"], f["new"]) for f in shown["last_run"]["folders"]] == [("INBOX", kept)]
    assert f"INBOX: {kept} new" in out and "interrupted" in out, out
    assert shown["next_run_at"] is None  # a manual import: nothing was scheduled for it

    again = run_mailmatch(box.home, "imports", "run", "imp", "--json")
    assert again.returncode == 0, again.stdout + again.stderr
    assert ImportService(box.accounts.db).get("imp").to_json()["last_run"]["new"] == TOTAL - kept
    assert stored(box) == digests(box.server_messages())


def test_a_caller_without_a_stop_flag_gets_keyboard_interrupt_once_the_run_is_recorded(
    mailbox: Any,
) -> None:
    """The scheduler loop knows no stop flag: Ctrl-C still ends it, after the run is saved."""
    box: Mailbox = mailbox()
    for n in range(200):
        box.deliver(message(n))
    ImportService(box.accounts.db).create("imp", "acct", ["INBOX"], None)

    def ctrl_c_after_100(_folder: str, done: int, _total: int) -> None:
        if done >= 100:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        box.runner(batch_size=20).run("imp", progress=ctrl_c_after_100)

    kept = MessageStore(box.accounts.db).count()
    assert 100 <= kept < 200
    shown = ImportService(box.accounts.db).get("imp").to_json()
    assert (shown["state"], shown["last_run"]["new"]) == ("interrupted", kept)
    assert shown["last_error"]["code"] == "interrupted"
    assert box.runner(batch_size=20).run("imp").new == 200 - kept
    assert stored(box) == digests(box.server_messages())


def test_a_keyboard_interrupt_inside_a_statement_leaves_no_write_lock(tmp_path: Path) -> None:
    """Python raises KeyboardInterrupt right after the C call that was running returns: here,
    after a SELECT inside a write transaction, its rows not yet read."""
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x)")
        conn.exec_driver_sql("INSERT INTO t VALUES (1), (2), (3)")

    def signal_arrives(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith("SELECT x"):
            raise KeyboardInterrupt

    event.listen(engine, "after_cursor_execute", signal_arrives)
    with pytest.raises(KeyboardInterrupt) as interrupt, engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO t VALUES (4)")
        conn.exec_driver_sql("SELECT x FROM t")
    # The traceback is still alive (``interrupt`` holds it), as while a run records the
    # interruption in its ``except`` block: the write lock must be free all the same.
    other = sqlite3.connect(tmp_path / "store.db", timeout=1)
    try:
        other.execute("BEGIN IMMEDIATE")
        assert other.execute("SELECT count(*) FROM t").fetchone() == (3,)  # insert rolled back
        other.rollback()
    finally:
        other.close()
    assert interrupt.traceback  # kept to here on purpose
