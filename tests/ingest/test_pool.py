"""The parse pool starts its workers safely from a process that already runs threads.

``serve`` runs imports on threads beside the web server and the scheduler, so when an import
starts its parse workers, another thread may be in the middle of something that holds a lock: here,
importing a module (Python holds that module's import lock until its body has run). A worker
forked from that process would inherit the lock held by a thread that does not exist in it, and
hang for good the first time it imports the module; a worker started by the fork server does not.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mailmatch.ingest import pool
from mailmatch.ingest.models import ParsedMessage
from tests.processes import kill, processes

SLOW_MODULE = "mailmatch_test_slow_import"
RAW = b"From: a@example.org\r\nTo: b@example.net\r\nSubject: pooled\r\n\r\nhello\r\n"
_PARSE_ALL = pool._parse_all


def _parse_after_importing_the_slow_module(raws: list[bytes], cap: int) -> list[ParsedMessage]:
    """Parse like a worker, after an import another thread of the importer is running."""
    importlib.import_module(SLOW_MODULE)
    return _PARSE_ALL(raws, cap)


def _write_slow_module(directory: Path) -> Path:
    started = directory / "import-started"
    (directory / f"{SLOW_MODULE}.py").write_text(
        f"import pathlib, time\npathlib.Path({str(started)!r}).touch()\ntime.sleep(1.5)\n"
    )
    return started


def test_workers_start_while_another_thread_holds_an_import_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = _write_slow_module(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    importer = threading.Thread(target=importlib.import_module, args=(SLOW_MODULE,))
    importer.start()
    deadline = time.monotonic() + 10
    while not started.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert started.exists(), "the other thread never began its import"
    monkeypatch.setattr(pool, "_parse_all", _parse_after_importing_the_slow_module)

    workers = pool.ParsePool(pool.MIN_MESSAGES_FOR_WORKERS, cap=1024 * 1024, workers=1)
    try:
        assert workers.workers == 1
        parsed = workers.submit([RAW]).result(timeout=20)
    except TimeoutError:
        # The worker hangs on the import lock it inherited: end it, or closing the pool waits.
        me = os.getpid()
        own = Path(f"/proc/{me}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        kill(processes(lambda p: p.ppid == me and p.cmdline == own))
        raise
    finally:
        workers.close()
        importer.join()

    assert [p.subject for p in parsed] == ["pooled"]


def test_a_process_with_one_thread_forks_its_workers_and_one_with_more_uses_the_fork_server() -> (
    None
):
    """Forking is safe with a single thread (no other thread can hold a lock) and saves the fork
    server's start (a Python start and the parse modules' imports) on every ``imports run``."""
    alone = subprocess.run(
        [sys.executable, "-c", "from mailmatch.ingest import pool; print(pool.start_method())"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert alone.stdout.strip() == "fork", alone.stderr

    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert pool.start_method() == "forkserver"
    finally:
        stop.set()
        other.join()
