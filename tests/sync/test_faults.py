"""Faults during an import, each made for real; afterwards the store holds exactly the server's
messages, none twice."""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import subprocess
import sys
import time
from typing import Any

import pytest
from sqlalchemy import func, select

from mailmatch.imports.service import ImportService
from mailmatch.ingest import pool
from mailmatch.store.messages import MessageStore
from mailmatch.store.models import Message
from tests.processes import in_session, kill, processes, wait_gone
from tests.servers.proxy import CuttingProxy
from tests.sync.conftest import Mailbox, digests, message, stored


def fill(box: Mailbox, count: int) -> None:
    for n in range(count):
        box.deliver(message(n, body="x" * random.Random(n).randint(200, 3000)))


def test_connection_cut_at_random_points_resumes_from_the_checkpoint(
    mailbox: Any, dovecot: Any
) -> None:
    rng = random.Random(1234)
    proxy = CuttingProxy(dovecot.imaps_port, cuts=[rng.randint(20_000, 200_000) for _ in range(3)])
    try:
        box: Mailbox = mailbox(port=proxy.port)
        fill(box, 150)
        ImportService(box.accounts.db).create("imp", "acct", ["INBOX"], None)

        result = box.runner(batch_size=10).run("imp").to_json()

        assert proxy.cut_count == 3  # three connections really were cut mid-stream
        assert result["state"] == "ok", result
        assert result["new"] == 150
        assert stored(box) == digests(box.server_messages())
    finally:
        proxy.close()


def test_a_run_that_keeps_losing_its_connection_fails_and_the_next_run_finishes(
    mailbox: Any, dovecot: Any
) -> None:
    proxy = CuttingProxy(dovecot.imaps_port, cuts=[30_000] * 5)
    try:
        box: Mailbox = mailbox(port=proxy.port)
        fill(box, 120)
        ImportService(box.accounts.db).create("imp", "acct", ["INBOX"], None)

        first = box.runner(batch_size=5, reconnects=2).run("imp").to_json()
        assert first["state"] == "connect_error"
        partial = MessageStore(box.accounts.db).count()
        assert 0 < partial < 120  # batches before the cuts were kept

        second = box.runner(batch_size=5).run("imp").to_json()
        assert second["state"] == "ok", second
        assert second["new"] == 120 - partial
        assert stored(box) == digests(box.server_messages())
    finally:
        proxy.close()


_PARSE_ALL = pool._parse_all


def _dies_on_the_second_batch(raws: list[bytes], cap: int) -> Any:
    """Parse like a worker, but end the worker process at its second batch."""
    if multiprocessing.parent_process() is not None and len(raws) > 100:  # the first is 62
        time.sleep(0.3)  # mid-parse: the first batch's result has reached the importer
        os._exit(9)  # as the kernel's OOM killer would end it: no goodbye
    return _PARSE_ALL(raws, cap)


@pytest.mark.skipif(pool.default_workers() == 0, reason="one CPU: batches parse in-process")
def test_a_parse_worker_that_dies_is_a_clear_error_and_the_next_run_finishes(
    mailbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    box: Mailbox = mailbox()
    fill(box, 400)  # enough for a worker process (pool.MIN_MESSAGES_FOR_WORKERS)
    ImportService(box.accounts.db).create("imp", "acct", ["INBOX"], None)

    monkeypatch.setattr(pool, "_parse_all", _dies_on_the_second_batch)  # forked into the worker
    first = box.runner().run("imp").to_json()

    assert first["state"] == "connect_error"
    assert "parsing worker process died" in first["errors"][0]["message"]
    kept = MessageStore(box.accounts.db).count()
    assert kept == 62  # the batch stored before the worker died

    monkeypatch.setattr(pool, "_parse_all", _PARSE_ALL)
    second = box.runner().run("imp").to_json()
    assert second["state"] == "ok" and second["new"] == 400 - kept
    assert stored(box) == digests(box.server_messages())


def test_the_process_killed_mid_run_resumes_and_leaves_no_process(mailbox: Any) -> None:
    box: Mailbox = mailbox()
    fill(box, 600)  # enough for a parse worker process (pool.MIN_MESSAGES_FOR_WORKERS)
    ImportService(box.accounts.db).create("imp", "acct", ["INBOX"], None)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILMATCH_")}
    env["MAILMATCH_HOME"] = str(box.home)
    env["MAILMATCH_FETCH_BATCH"] = "20"
    command = [sys.executable, "-m", "mailmatch", "imports", "run", "imp", "--json"]

    # Its own session: the import's parse workers stay in it even once re-parented to PID 1.
    proc = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 60
        count = 0
        while time.monotonic() < deadline and proc.poll() is None:
            # db.read(): a plain BEGIN. engine.connect() would BEGIN IMMEDIATE, i.e. queue for
            # the write lock behind the import, and could wait out every batch until the last.
            with box.accounts.db.read() as conn:
                count = conn.execute(select(func.count()).select_from(Message)).scalar_one()
            if count > 0:
                break
            time.sleep(0.02)
        workers = processes(lambda p: p.session == proc.pid and p.pid != proc.pid)
        proc.send_signal(signal.SIGKILL)  # as the OOM killer ends it: no chance to clean up
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
        if pool.default_workers() > 0:
            assert workers, "the run had no parse worker to leave behind"
        assert wait_gone(in_session(proc.pid)) == []  # its parse workers died with it
    finally:
        kill(processes(in_session(proc.pid)))
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]
    assert 0 < MessageStore(box.accounts.db).count() < 600  # killed between two batches

    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    assert stored(box) == digests(box.server_messages())
