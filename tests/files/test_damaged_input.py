"""Damaged and awkward input: unreadable parts are skipped and named while the rest is imported,
a cut-off last message is stored and flagged, and Content-Length keeps ``From`` lines in a body.

The tests run as root in CI, where ``chmod 000`` does not stop a read. Unreadability is made
real here with what fails for root too: a dangling symbolic link, a directory where a message
file should be, a FIFO (opening one for reading would wait forever for a writer), and a
``new`` that is a regular file instead of a directory (it cannot be listed).
"""

from __future__ import annotations

import json
import os
import random
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from mailmatch.config import load_settings
from mailmatch.errors import InvalidInput
from mailmatch.files import FileProblem, iter_messages
from mailmatch.imports.files import import_file
from mailmatch.store.db import Database, open_database
from mailmatch.store.messages import MessageStore
from mailmatch.store.models import Message
from tests.cli import run_mailmatch

FROM = b"From a@b Mon Jan  1 00:00:00 2024\n"


def mail(n: int, body: bytes = b"body\n") -> bytes:
    return b"Subject: %d\nMessage-ID: <%d@example.org>\n\n" % (n, n) + body


def maildir(root: Path, files: dict[str, bytes]) -> Path:
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for name, raw in files.items():
        (root / name).write_bytes(raw)
    return root


def damaged_maildir(tmp_path: Path) -> Path:
    """Three good messages, and four parts that cannot be read even by root."""
    root = maildir(
        tmp_path / "Maildir",
        {"cur/1.M1P1.h:2,S": mail(1), "new/3.M1P1.h": mail(3), "new/5.M1P1.h": mail(5)},
    )
    (root / "cur" / "2.M1P1.h:2,S").symlink_to(tmp_path / "deleted-long-ago")
    (root / "cur" / "4.M1P1.h:2,S").mkdir()  # a directory where a message file should be
    os.mkfifo(root / "new" / "6.M1P1.h")  # reading would block forever
    broken = maildir(root / ".Sent", {"cur/7.M1P1.h:2,S": mail(7)})
    (broken / "new").rmdir()
    (broken / "new").write_bytes(b"")  # new/ is a file: the subfolder cannot be listed
    return root


def test_unreadable_parts_of_a_maildir_are_named_and_the_rest_is_read(tmp_path: Path) -> None:
    """Unreadable as root too: a dangling symlink, a directory, a FIFO, a ``new`` that is a file."""
    root = damaged_maildir(tmp_path)
    problems: list[FileProblem] = []
    found = [(m.source, m.raw) for m in iter_messages(root, on_problem=problems.append)]
    assert found == [
        ("Maildir/cur/1.M1P1.h:2,S", mail(1)),
        ("Maildir/new/3.M1P1.h", mail(3)),
        ("Maildir/new/5.M1P1.h", mail(5)),
        ("Maildir/.Sent/cur/7.M1P1.h:2,S", mail(7)),
    ]
    assert [(p.source, p.reason) for p in problems] == [
        ("Maildir/cur/2.M1P1.h:2,S", f"a symbolic link to {tmp_path / 'deleted-long-ago'}, "
                                     "which is missing"),
        ("Maildir/cur/4.M1P1.h:2,S", "a directory, not a file"),
        ("Maildir/new/6.M1P1.h", "not a regular file (a FIFO, socket or device)"),
        ("Maildir/.Sent/new", "Not a directory"),
    ]  # fmt: skip
    with pytest.raises(InvalidInput, match=re.escape("cannot read Maildir/cur/2.M1P1.h:2,S")):
        list(iter_messages(root))  # a caller that did not ask to go on is told, not misled


def test_a_child_mailbox_of_an_apple_export_that_cannot_be_read(tmp_path: Path) -> None:
    work = tmp_path / "Work.mbox"
    (work / "Broken.mbox").mkdir(parents=True)
    (work / "mbox").write_bytes(FROM + mail(1) + b"\n")
    os.mkfifo(work / "Broken.mbox" / "mbox")
    (work / "Later.mbox").mkdir()
    (work / "Later.mbox" / "mbox").write_bytes(FROM + mail(2) + b"\n")
    problems: list[FileProblem] = []
    assert [m.folder for m in iter_messages(work, on_problem=problems.append)] == [
        "Work",
        "Work/Later",
    ]
    assert [p.source for p in problems] == ["Work.mbox/Broken.mbox/mbox"]


def test_a_maildir_subfolder_linking_back_to_its_parent_is_read_once(tmp_path: Path) -> None:
    root = maildir(tmp_path / "Maildir", {"cur/1.M1P1.h:2,S": mail(1)})
    (root / ".Loop").symlink_to(root)
    problems: list[FileProblem] = []
    assert [m.raw for m in iter_messages(root, on_problem=problems.append)] == [mail(1)]
    assert [p.source for p in problems] == ["Maildir/.Loop"]


# --- Content-Length and truncation ---------------------------------------------------------------


def counted(raw_headers: bytes, body: bytes) -> bytes:
    return raw_headers + b"Content-Length: %d\n\n" % len(body) + body


def test_content_length_keeps_an_unquoted_from_line_in_an_mboxcl2_body(tmp_path: Path) -> None:
    """Dovecot and Solaris mail write mboxcl2: no quoting, the body's length in a header."""
    body = b"Forwarded below.\n\nFrom b@c Tue Jan  2 00:00:00 2024\n>From kept as stored\n"
    first = counted(b"Subject: 1\n", body)
    second = counted(b"Subject: 2\n", b"two\n")
    mbox = tmp_path / "dovecot.mbox"
    mbox.write_bytes(FROM + first + b"\n" + FROM + second + b"\n")
    messages = list(iter_messages(mbox))
    assert [m.raw for m in messages] == [first, second]
    assert [m.truncated for m in messages] == [None, None]


def test_random_mboxcl2_bodies_come_back_exactly(tmp_path: Path) -> None:
    """Whatever an unquoted body holds (From_ lines, blank lines, >From, CR), the count wins."""
    pieces = [b"\n", b"\r\n", b"\r", b">", b"From ", b"a@b ", b"12:00 2024", b"x", b" "]
    rng = random.Random(4155)
    messages = [
        counted(
            b"Subject: %d\n" % n, b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 15)))
        )
        for n in range(3000)
    ]
    mbox = tmp_path / "mboxcl2.mbox"
    mbox.write_bytes(b"".join(FROM + raw + b"\n" for raw in messages))
    assert [m.raw for m in iter_messages(mbox)] == messages


def test_a_content_length_the_file_does_not_bear_out_is_ignored(tmp_path: Path) -> None:
    """Too short, too long or landing inside a line: the mboxrd rules decide, nothing is lost."""
    short = b"Subject: 1\nContent-Length: 3\n\nbody line\n"  # lands inside "body line"
    long = b"Subject: 2\nContent-Length: 9999\n\ntwo\n"  # past the next From_ line
    last = b"Subject: 3\n\n>From three\n"
    mbox = tmp_path / "edited.mbox"
    mbox.write_bytes(FROM + short + b"\n" + FROM + long + b"\n" + FROM + last + b"\n")
    assert [m.raw for m in iter_messages(mbox)] == [short, long, b"Subject: 3\n\nFrom three\n"]


@pytest.mark.parametrize(
    ("tail", "why"),
    [
        (
            b"Subject: cut\nContent-Length: 500\n\nonly the first line arrived\n",
            "its Content-Length promises 500 bytes of body, the file ends after 28",
        ),
        (
            b"Subject: cut\nContent-Type: multipart/mixed; boundary=XYZ\n\n--XYZ\n"
            b"Content-Type: text/plain\n\nhello\n--XYZ\nContent-Type: application/pdf\n\nJVBE\n",
            "it is a multipart message whose closing boundary 'XYZ' never comes",
        ),
        (b"Subject: cut\n\nthe copy stopped in the mid", "the file ends in the middle of a line"),
    ],
    ids=["content-length", "multipart", "mid-line"],
)
def test_the_last_message_of_a_cut_file_is_kept_and_says_so(
    tmp_path: Path, tail: bytes, why: str
) -> None:
    mbox = tmp_path / "cut.mbox"
    complete = b"Subject: ok\nContent-Type: multipart/mixed; boundary=XYZ\n\n--XYZ\n\nhi\n--XYZ--\n"
    mbox.write_bytes(FROM + complete + b"\n" + FROM + tail)
    first, last = iter_messages(mbox)
    assert (first.raw, first.truncated) == (complete, None)
    assert (last.raw, last.truncated) == (tail, why)


# --- import-file ---------------------------------------------------------------------------------


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def db(home: Path) -> Database:
    return open_database(load_settings({"MAILMATCH_HOME": str(home)}))


def test_import_file_stores_the_readable_messages_and_names_the_rest(
    tmp_path: Path, home: Path
) -> None:
    root = damaged_maildir(tmp_path)
    result = run_mailmatch(home, "import-file", str(root), "--json")
    assert result.returncode == 1, result.stderr  # non-zero, but only after storing the rest
    report = json.loads(result.stdout)
    assert (report["messages"], report["new"], report["skipped_unreadable"]) == (4, 4, 4)
    assert [p["source"] for p in report["unreadable"]] == [
        "Maildir/cur/2.M1P1.h:2,S",
        "Maildir/cur/4.M1P1.h:2,S",
        "Maildir/new/6.M1P1.h",
        "Maildir/.Sent/new",
    ]
    text = run_mailmatch(home, "import-file", str(root))
    assert text.returncode == 1
    assert "4 messages in" in text.stdout and "0 new, 4 already stored" in text.stdout
    assert "4 could not be read, skipped:" in text.stdout
    assert "  Maildir/cur/4.M1P1.h:2,S: a directory, not a file" in text.stdout


def test_a_cut_mbox_is_imported_with_its_last_message_flagged(tmp_path: Path, db: Database) -> None:
    mbox = tmp_path / "cut.mbox"
    cut = b"Subject: cut\nMessage-ID: <cut@x>\nContent-Length: 500\n\nonly this arrived\n"
    mbox.write_bytes(FROM + mail(1) + b"\n" + FROM + cut)
    store = MessageStore(db)
    result = import_file(store, mbox)
    assert (result.messages, result.new, result.defective) == (2, 2, 1)
    assert result.truncated == [
        FileProblem("cut.mbox#2", "its Content-Length promises 500 bytes of body, the file ends "
                                  "after 18")
    ]  # fmt: skip
    with db.session() as session:
        flagged = session.execute(select(Message.message_id, Message.defects)).all()
    assert {mid: "truncated" in defects for mid, defects in flagged} == {
        "1@example.org": False,
        "cut@x": True,
    }
    again = import_file(store, mbox)  # said again, but not counted as new defective mail
    assert (again.new, again.defective, len(again.truncated)) == (0, 0, 1)
    assert again.to_json()["truncated"] == [
        {"source": "cut.mbox#2", "reason": result.truncated[0].reason}
    ]
