"""The import commands as a user runs them, including the whole real corpus."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.cli import run_mailmatch
from tests.sync.conftest import Mailbox, message


def mailmatch(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_mailmatch(home, *args)


def ok(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout) if result.stdout.lstrip().startswith(("{", "[")) else None


def test_create_run_list_show_search_and_raw(mailbox: Any) -> None:
    box: Mailbox = mailbox()
    box.deliver(message(1, subject="Quarterly numbers", body="the budget is attached"))
    box.deliver(message(2, subject="Lunch?"))

    created = ok(mailmatch(box.home, "imports", "create", "inbox", "--account", "acct",
                           "--folders", "INBOX", "--every", "20m", "--json"))  # fmt: skip
    assert created["every"] == "20m" and created["folders"] == ["INBOX"]

    box.accounts.db.engine.dispose()  # the run's process is then the store's only user
    run = ok(mailmatch(box.home, "imports", "run", "inbox", "--json"))
    assert set(run) >= {"import", "folders", "new", "skipped_duplicates", "defective", "errors",
                        "seconds"}  # fmt: skip
    assert run["import"] == "inbox" and run["new"] == 2 and run["errors"] == []
    # The run ends its process without the interpreter's teardown, but only after closing the
    # store: as its last user it checkpointed SQLite's WAL into the database file.
    wal = box.home / "mailmatch.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0

    listed = ok(mailmatch(box.home, "imports", "list", "--json"))
    assert [(i["name"], i["state"]) for i in listed] == [("inbox", "ok")]
    shown = ok(mailmatch(box.home, "imports", "show", "inbox", "--json"))
    assert shown["last_run"]["new"] == 2 and shown["folder_states"][0]["folder"] == "INBOX"

    hits = ok(mailmatch(box.home, "messages", "search", "budget", "--json"))
    assert [h["subject"] for h in hits] == ["Quarterly numbers"]
    detail = ok(mailmatch(box.home, "messages", "show", str(hits[0]["id"]), "--json"))
    assert detail["addresses"]["from"] == [{"name": "Alice", "email": "alice@example.org"}]
    assert detail["locations"][0]["folder"] == "INBOX"

    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILMATCH_")}
    raw = subprocess.run(
        [sys.executable, "-m", "mailmatch", "messages", "raw", str(hits[0]["id"])],
        capture_output=True, env={**env, "MAILMATCH_HOME": str(box.home)}, timeout=60,
    ).stdout  # fmt: skip
    assert raw in box.server_messages()

    assert ok(mailmatch(box.home, "imports", "remove", "inbox")) is None


def test_unknown_import_is_a_clear_error(tmp_path: Path) -> None:
    result = mailmatch(tmp_path, "imports", "run", "nope")
    assert result.returncode == 1
    assert "no import named 'nope'" in result.stderr


def test_import_file_twice_adds_nothing(tmp_path: Path) -> None:
    mbox = tmp_path / "export.mbox"
    mbox.write_bytes(
        b"From a@b Mon Sep  2 10:00:00 2002\n" + message(1).replace(b"\r\n", b"\n") + b"\n"
        b"From a@b Mon Sep  2 10:01:00 2002\n" + message(2).replace(b"\r\n", b"\n") + b"\n"
    )
    first = ok(mailmatch(tmp_path / "home", "import-file", str(mbox), "--json"))
    assert (first["kind"], first["messages"], first["new"]) == ("mbox", 2, 2)
    second = ok(mailmatch(tmp_path / "home", "import-file", str(mbox), "--json"))
    assert (second["new"], second["skipped_duplicates"]) == (0, 2)


@pytest.mark.corpus
def test_the_whole_corpus_through_dovecot(
    mailbox: Any, corpus_messages: list[bytes], tmp_path: Path
) -> None:
    box: Mailbox = mailbox()
    raws = corpus_messages
    assert len(raws) == 6046
    for raw in raws:
        box.deliver(raw)
    ok(mailmatch(box.home, "imports", "create", "all", "--account", "acct"))

    run = ok(mailmatch(box.home, "imports", "run", "all", "--json"))

    server = box.server_messages()
    assert len(server) == 6046
    assert run["new"] + run["skipped_duplicates"] == 6046
    assert run["new"] == len({hashlib.sha256(r).digest() for r in server})
    assert box.seen_count() == 0  # nothing on the server changed
    assert ok(mailmatch(box.home, "imports", "run", "all", "--json"))["new"] == 0

    dest = tmp_path / "export"
    ok(mailmatch(box.home, "export", "maildir", str(dest)))
    exported = {p.read_bytes() for p in dest.glob("*/*") if p.is_file()}
    assert exported == set(server)  # every message back, byte for byte
