"""Imports quiet the process-wide garbage collector; overlapping ones must not leave it so."""

from __future__ import annotations

import gc
import threading
from typing import Any

from mailmatch.imports.service import ImportService
from mailmatch.sync.quiet_gc import QUIET_THRESHOLDS
from mailmatch.sync.runner import RunResult
from tests.sync.conftest import Mailbox, message

WAIT = 30.0


def test_two_overlapping_imports_in_one_process_leave_the_gc_thresholds_as_they_were(
    mailbox: Any,
) -> None:
    # As in ``serve``: a scheduled and a manual import, each on its own thread. The first
    # starts, the second starts while it runs, the first ends, then the second.
    first, second = mailbox(), mailbox()
    for box in (first, second):
        for n in range(12):
            box.deliver(message(n))
        ImportService(box.accounts.db).create("imp", "acct", ["INBOX"], None)
    before = gc.get_threshold()
    assert before != QUIET_THRESHOLDS
    first_in, second_in, first_done = threading.Event(), threading.Event(), threading.Event()
    results: dict[str, RunResult] = {}

    def first_progress(_folder: str, done: int, _total: int) -> None:
        if done and not first_in.is_set():  # a batch stored: inside the quiet section
            first_in.set()
            assert second_in.wait(WAIT)

    def second_progress(_folder: str, done: int, _total: int) -> None:
        if done and not second_in.is_set():
            second_in.set()
            assert first_done.wait(WAIT)

    def run(name: str, box: Mailbox, progress: Any, after: threading.Event | None) -> None:
        try:
            results[name] = box.runner(batch_size=4).run("imp", progress, threading.Event())
        finally:
            if after is not None:
                after.set()

    threads = [
        threading.Thread(target=run, args=("first", first, first_progress, first_done)),
        threading.Thread(target=run, args=("second", second, second_progress, None)),
    ]
    threads[0].start()
    assert first_in.wait(WAIT)
    threads[1].start()
    for thread in threads:
        thread.join(2 * WAIT)

    assert [results[n].new for n in ("first", "second")] == [12, 12]
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
