"""A full disk under the data home, made for real: a small tmpfs mounted for the test."""

from __future__ import annotations

import base64
import json
import random
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from mailmatch.imports.service import ImportService
from mailmatch.jobs.scheduler import run_due
from mailmatch.store.messages import MessageStore
from mailmatch.store.models import Import
from mailmatch.store.tables import LOCATIONS
from mailmatch.timeutil import now
from tests.cli import run_mailmatch
from tests.sync.conftest import Mailbox, digests, message, stored

DISK = 24 * 1024 * 1024


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 24 MiB filesystem of its own (tmpfs), unmounted afterwards; skips where mounting is
    not permitted (not root, or in a container without CAP_SYS_ADMIN)."""
    mountpoint = tmp_path / "small-disk"
    mountpoint.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK},mode=0700", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", str(mountpoint)], check=False, capture_output=True)
        if mountpoint.is_mount():  # a process still holds a file there
            subprocess.run(["umount", "-l", str(mountpoint)], check=True)


def fill_up(disk: Path, leave: int) -> Path:
    """Take all but ``leave`` bytes of ``disk`` with one ballast file."""
    ballast = disk / "ballast"
    free = __import__("shutil").disk_usage(disk).free
    with ballast.open("wb") as f:
        f.write(b"\0" * max(0, free - leave))
    return ballast


def incompressible(n: int, size: int = 12_000) -> bytes:
    """A message whose body does not compress (the store packs blobs with zstandard)."""
    body = base64.encodebytes(random.Random(n).randbytes(size * 3 // 4)).decode()
    return message(n, body=body.replace("\n", "\r\n"))


def logins(box: Mailbox) -> int:
    time.sleep(0.3)  # Dovecot's log process writes asynchronously
    return box.dovecot.log_text().count(f"Login: user=<{box.address}>")


def test_a_full_disk_stops_the_import_clearly_keeps_what_was_stored_and_waits_for_space(
    mailbox: Any, small_disk: Path
) -> None:
    box: Mailbox = mailbox(home=small_disk / "home")
    for n in range(400):
        box.deliver(incompressible(n))
    ImportService(box.accounts.db).create("imp", "acct", ["INBOX"], 20 * 60)
    ballast = fill_up(small_disk, leave=3 * 1024 * 1024)  # room for a batch or two, not 400

    run = run_mailmatch(box.home, "imports", "run", "imp", "--json")

    assert run.returncode == 1, run.stdout + run.stderr
    assert "Traceback" not in run.stderr, run.stderr
    result = json.loads(run.stdout)
    assert result["state"] == "disk_full"
    error = result["errors"][0]
    assert error["code"] == "disk_full"
    assert str(small_disk) in error["message"] and "free" in error["message"]
    assert error["path"].startswith(str(small_disk)) and error["free_bytes"] < 3 * 1024 * 1024
    kept = MessageStore(box.accounts.db).count()
    assert 0 < kept < 400  # the batches before the disk filled up stay
    assert result["new"] == kept
    with box.accounts.db.read() as conn:
        state = ImportService(box.accounts.db).get("imp").to_json()
        uids = sorted(conn.execute(select(LOCATIONS.c.uid)).scalars())
    assert state["state"] == "disk_full" and state["last_run"]["new"] == kept
    checkpoint = state["folder_states"][0]["last_uid"]
    assert uids == list(range(1, checkpoint + 1))  # the checkpoint is true: all stored up to it
    assert state["next_run_at"] is not None  # backed off, as any failure

    # Still full: neither a manual run nor the scheduler logs in to the server again.
    before = logins(box)
    again = run_mailmatch(box.home, "imports", "run", "imp", "--json")
    assert again.returncode == 1 and "Traceback" not in again.stderr
    assert json.loads(again.stdout)["error"]["code"] == "disk_full"
    with box.accounts.db.session() as session:  # due now
        session.execute(update(Import).values(next_run_at=now() - timedelta(seconds=1)))
    assert [(s.name, s.why) for s in run_due(box.runner()).skipped.values()] == [
        ("imp", "disk_full")
    ]
    assert logins(box) == before
    assert ImportService(box.accounts.db).get("imp").to_json()["state"] == "disk_full"

    ballast.unlink()  # space is back: the next run finishes, exactly once
    done = run_mailmatch(box.home, "imports", "run", "imp", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["new"] == 400 - kept
    assert stored(box) == digests(box.server_messages())
    box.accounts.db.engine.dispose()


def test_import_file_on_a_full_disk_is_one_clear_error_and_works_once_space_is_back(
    small_disk: Path,
) -> None:
    mbox = small_disk.parent / "big.mbox"
    with mbox.open("wb") as f:
        for n in range(400):
            f.write(b"From a@b Mon Sep  2 10:00:00 2002\n")
            f.write(incompressible(n).replace(b"\r\n", b"\n") + b"\n")
    home = small_disk / "home"
    assert run_mailmatch(home, "imports", "list").returncode == 0  # the store exists
    ballast = fill_up(small_disk, leave=3 * 1024 * 1024)

    full = run_mailmatch(home, "import-file", str(mbox), "--json")

    assert full.returncode == 1, full.stdout + full.stderr
    assert "Traceback" not in full.stderr, full.stderr
    error = json.loads(full.stdout)["error"]
    assert error["code"] == "disk_full" and str(small_disk) in error["message"]

    ballast.unlink()
    done = run_mailmatch(home, "import-file", str(mbox), "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["messages"] == 400 and result["new"] + result["skipped_duplicates"] == 400
