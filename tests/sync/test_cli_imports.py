"""The import commands as a user runs them, including the whole real corpus."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.cli import run_mailmatch, run_on_terminal
from tests.sync.conftest import Mailbox, message


def mailmatch(
    home: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return run_mailmatch(home, *args, env=env)


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


def test_an_import_that_never_ran_says_so_and_when_it_runs(mailbox: Any) -> None:
    box: Mailbox = mailbox()
    ok(mailmatch(box.home, "imports", "create", "manual", "--account", "acct"))

    listed = mailmatch(box.home, "imports", "list", env={"COLUMNS": "200"}).stdout
    row = next(line for line in listed.splitlines() if "manual" in line and "acct" in line)
    assert "never run" in row and "manual only" in row, listed
    shown = mailmatch(box.home, "imports", "show", "manual").stdout
    assert "never run" in shown and "None" not in shown, shown
    assert "schedule: manual only" in shown
    data = ok(mailmatch(box.home, "imports", "show", "manual", "--json"))
    assert data["state"] == "ok" and data["never_run"] is True  # "state" keeps its values

    box.deliver(message(1))
    box.accounts.db.engine.dispose()
    ok(mailmatch(box.home, "imports", "run", "manual", "--json"))
    after = ok(mailmatch(box.home, "imports", "show", "manual", "--json"))
    assert after["never_run"] is False
    assert "never run" not in mailmatch(box.home, "imports", "show", "manual").stdout


def test_a_scheduled_import_says_when_it_runs_next(mailbox: Any) -> None:
    box: Mailbox = mailbox()
    ok(mailmatch(box.home, "imports", "create", "often", "--account", "acct", "--every", "20m"))
    shown = mailmatch(box.home, "imports", "show", "often").stdout
    line = next(x for x in shown.splitlines() if "schedule" in x)
    assert re.fullmatch(r"  schedule: every 20m; next \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", line)


def test_imports_show_json_names_the_folders_it_reads(mailbox: Any) -> None:
    box: Mailbox = mailbox()
    box.deliver(message(1))
    box.deliver(message(2), folder="Sent")
    ok(mailmatch(box.home, "imports", "create", "both", "--account", "acct"))
    text = mailmatch(box.home, "imports", "show", "both").stdout
    assert "folders: INBOX, Sent" in text

    before = ok(mailmatch(box.home, "imports", "show", "both", "--json"))
    assert before["folders"] == ["INBOX", "Sent"] and before["default_folders"] is True
    box.accounts.db.engine.dispose()
    run = ok(mailmatch(box.home, "imports", "run", "both", "--json"))
    read = [f["name"] for f in run["folders"]]
    assert read == ["INBOX", "Sent"] and run["new"] == 2
    after = ok(mailmatch(box.home, "imports", "show", "both", "--json"))
    assert after["folders"] == read == after["folders_used"]
    listed = ok(mailmatch(box.home, "imports", "list", "--json"))
    assert listed[0]["folders"] == read

    ok(mailmatch(box.home, "imports", "create", "one", "--account", "acct", "--folders", "INBOX"))
    named = ok(mailmatch(box.home, "imports", "show", "one", "--json"))
    assert named["folders"] == ["INBOX"] and named["default_folders"] is False


def test_the_progress_bar_shows_rate_and_eta_and_stays(mailbox: Any) -> None:
    box: Mailbox = mailbox()
    for n in range(1, 41):
        box.deliver(message(n))
    ok(mailmatch(box.home, "imports", "create", "inbox", "--account", "acct", "--folders", "INBOX"))
    box.accounts.db.engine.dispose()

    done, terminal = run_on_terminal(box.home, "imports", "run", "inbox", columns=120)

    assert done.returncode == 0, done.stdout + terminal
    assert "inbox: ok, 40 new" in done.stdout
    bar = [line for line in terminal.splitlines() if line.startswith("INBOX")]
    assert len(bar) == 1, terminal  # the last state of the bar, kept on screen
    assert re.search(r"40/40 .*\d[\d,]* msg/s .*ETA", bar[0]), bar[0]


def test_empty_lists_say_what_to_do(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert "No imports yet. Create one with" in mailmatch(home, "imports", "list").stdout
    search = mailmatch(home, "messages", "search", "budget")
    assert search.returncode == 0 and search.stdout.strip() == "No stored message matches 'budget'."
    assert ok(mailmatch(home, "messages", "search", "budget", "--json")) == []
