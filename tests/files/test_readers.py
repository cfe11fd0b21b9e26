"""Reading mail files: every message comes out with exactly its bytes, and only the format's own
framing (the ``From_`` line, the separating empty line, one ``>`` of quoting) taken off."""

from __future__ import annotations

import inspect
import os
import re
import tracemalloc
from pathlib import Path

import pytest

from mailmatch.errors import InvalidInput
from mailmatch.files import FileMessage, detect_kind, iter_messages
from tests.files import corpus_files


def raws(path: Path) -> list[bytes]:
    return [message.raw for message in iter_messages(path)]


# --- mbox ---------------------------------------------------------------------------------------


def test_an_mbox_splits_at_from_lines_and_drops_the_separator_line(tmp_path: Path) -> None:
    mbox = tmp_path / "inbox.mbox"
    mbox.write_bytes(
        b"From alice@example.com Thu Aug 22 12:36:23 2002\n"
        b"Subject: one\n\nfirst body\n\n"
        b"From bob@example.com  Fri Aug 23 08:00:00 2002\n"
        b"Subject: two\n\nsecond body\n\n"
    )
    assert detect_kind(mbox) == "mbox"
    assert list(iter_messages(mbox)) == [
        FileMessage(raw=b"Subject: one\n\nfirst body\n", source="inbox.mbox#1"),
        FileMessage(raw=b"Subject: two\n\nsecond body\n", source="inbox.mbox#2"),
    ]


def test_a_google_takeout_mbox_with_crlf_lines(tmp_path: Path) -> None:
    takeout = tmp_path / "All mail Including Spam and Trash.mbox"
    takeout.write_bytes(
        b"From 1612345678901234567@xxx Mon Feb 01 10:20:30 +0000 2021\r\n"
        b"X-GM-THRID: 1\r\nSubject: one\r\n\r\nbody\r\n\r\n"
        b"From 1612345678901234568@xxx Mon Feb 01 10:21:30 +0000 2021\r\n"
        b"X-GM-THRID: 2\r\nSubject: two\r\n\r\nbody\r\n\r\n"
    )
    assert raws(takeout) == [
        b"X-GM-THRID: 1\r\nSubject: one\r\n\r\nbody\r\n",
        b"X-GM-THRID: 2\r\nSubject: two\r\n\r\nbody\r\n",
    ]


def test_mboxrd_quoting_is_undone_one_level(tmp_path: Path) -> None:
    mbox = tmp_path / "quoted.mbox"
    mbox.write_bytes(
        b"From a@b Mon Jan  1 00:00:00 2024\n"
        b"Subject: q\n\n>From the start\n>>From a reply\n> From not quoted\n>Fromage\n\n"
    )
    # mboxo would have meant ">From the start" literally; mboxrd (which we follow) did not.
    assert raws(mbox) == [
        b"Subject: q\n\nFrom the start\n>From a reply\n> From not quoted\n>Fromage\n"
    ]


def test_from_in_a_body_is_only_a_separator_after_a_blank_line_and_with_a_date(
    tmp_path: Path,
) -> None:
    mbox = tmp_path / "mboxo.mbox"
    mbox.write_bytes(
        b"From a@b Mon Jan  1 00:00:00 2024\n"
        b"Subject: 1\n\nsee below\nFrom a@b Mon Jan  1 00:00:00 2024\n"  # no blank line before
        b"\nFrom home recordings to mp3s, all of it.\n"  # blank line, but no date: a paragraph
        b"\nFrom b@c Tue Jan  2 00:00:00 2024\n"  # a real separator
        b"Subject: 2\n\nend\n"
    )
    assert raws(mbox) == [
        b"Subject: 1\n\nsee below\nFrom a@b Mon Jan  1 00:00:00 2024\n"
        b"\nFrom home recordings to mp3s, all of it.\n",
        b"Subject: 2\n\nend\n",  # no separator line at the end of the file: nothing dropped
    ]


def test_only_one_blank_line_belongs_to_the_format(tmp_path: Path) -> None:
    mbox = tmp_path / "blank.mbox"
    mbox.write_bytes(b"From a@b Mon Jan  1 00:00:00 2024\nS: 1\n\nx\n\n\n\nFrom a@b 1:00 2024\n\n")
    assert raws(mbox) == [b"S: 1\n\nx\n\n\n", b""]


def test_a_thunderbird_folder_file_is_read_by_explicit_path(tmp_path: Path) -> None:
    profile = tmp_path / "Mail" / "Local Folders"
    profile.mkdir(parents=True)
    inbox = profile / "Inbox"
    inbox.write_bytes(
        b"From - Thu Aug 22 12:36:23 2002\nX-Mozilla-Status: 0001\nSubject: t\n\nhi\n\n"
    )
    (profile / "Inbox.msf").write_bytes(b'// <!-- <mdb:mork:z v="1.4"/> -->\n< <(a=c)> >\n')
    (profile / "Trash").write_bytes(b"")  # Thunderbird keeps empty folders as empty files
    assert raws(inbox) == [b"X-Mozilla-Status: 0001\nSubject: t\n\nhi\n"]
    assert raws(profile / "Trash") == []
    with pytest.raises(InvalidInput) as excinfo:
        detect_kind(profile / "Inbox.msf")
    assert excinfo.value.advice[0].endswith("the mail is in " + str(inbox))


def test_an_apple_mail_export_with_a_child_mailbox(tmp_path: Path) -> None:
    work = tmp_path / "Work.mbox"
    (work / "Projects.mbox").mkdir(parents=True)
    (work / "mbox").write_bytes(b"From a@b Mon Jan  1 00:00:00 2024\nSubject: w\n\nw\n\n")
    (work / "table_of_contents").write_bytes(b"\x00\x01binary index")
    (work / "Info.plist").write_text("<plist/>")
    (work / "Projects.mbox" / "mbox").write_bytes(b"From a@b Mon Jan  1 00:00:00 2024\nS: p\n\np\n")
    assert detect_kind(work) == "apple_mbox_dir"
    assert list(iter_messages(work)) == [
        FileMessage(raw=b"Subject: w\n\nw\n", source="Work.mbox/mbox#1", folder="Work"),
        FileMessage(
            raw=b"S: p\n\np\n", source="Work.mbox/Projects.mbox/mbox#1", folder="Work/Projects"
        ),
    ]


# --- Maildir and .eml ---------------------------------------------------------------------------


def make_maildir(root: Path, files: dict[str, bytes]) -> None:
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for name, raw in files.items():
        (root / name).write_bytes(raw)


def test_a_maildir_with_subfolders(tmp_path: Path) -> None:
    root = tmp_path / "Maildir"
    make_maildir(
        root,
        {
            "cur/1700000002.M1P2.host:2,RS": b"Subject: read and replied\n\n",
            "new/1700000001.M1P2.host": b"Subject: new\n\n",
            "tmp/1700000003.M1P2.host": b"Subject: half-delivered, never read\n",
            "cur/.hidden": b"not a message",
        },
    )
    (root / "dovecot-uidlist").write_bytes(b"3 V1 N4\n")
    make_maildir(root / ".Sent", {"cur/1700000004.M1P2.host:2,S": b"Subject: sent\n\n"})
    make_maildir(root / ".Archive.2020", {"cur/1700000005.M1P2.host:2,": b"Subject: old\n\n"})
    make_maildir(root / ".Entw&APw-rfe", {"new/1700000006.M1P2.host": b"Subject: draft\n\n"})

    assert detect_kind(root) == "maildir"
    assert list(iter_messages(root)) == [
        FileMessage(b"Subject: new\n\n", "Maildir/new/1700000001.M1P2.host"),
        FileMessage(
            b"Subject: read and replied\n\n", "Maildir/cur/1700000002.M1P2.host:2,RS", "RS"
        ),
        FileMessage(
            b"Subject: old\n\n",
            "Maildir/.Archive.2020/cur/1700000005.M1P2.host:2,",
            "",
            "Archive/2020",
        ),
        FileMessage(
            b"Subject: draft\n\n", "Maildir/.Entw&APw-rfe/new/1700000006.M1P2.host", "", "Entwürfe"
        ),
        FileMessage(
            b"Subject: sent\n\n", "Maildir/.Sent/cur/1700000004.M1P2.host:2,S", "S", "Sent"
        ),
    ]


def test_a_single_eml_file(tmp_path: Path) -> None:
    eml = tmp_path / "hello.eml"
    eml.write_bytes(b"Received: from x\r\nSubject: hi\r\n\r\n>From here, no quoting\r\n")
    assert detect_kind(eml) == "eml"
    assert list(iter_messages(eml)) == [
        FileMessage(raw=eml.read_bytes(), source="hello.eml")  # not an mbox: nothing unquoted
    ]


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda p: p.mkdir(), "is an empty directory"),
        (lambda p: p.write_bytes(os.urandom(16) + b"\x00\xff\x89PNG"), "is not a mail file"),
        (lambda p: None, "does not exist"),
        (lambda p: (p / "stuff").mkdir(parents=True), "holds no mail this reader knows"),
    ],
    ids=["empty dir", "binary junk", "missing path", "unrelated dir"],
)
def test_detect_kind_says_what_is_wrong(tmp_path: Path, make: object, says: str) -> None:
    path = tmp_path / "input"
    make(path)  # type: ignore[operator]
    with pytest.raises(InvalidInput, match=says):
        detect_kind(path)
    with pytest.raises(InvalidInput, match=says):
        next(iter_messages(path))


def test_the_cur_folder_of_a_maildir_points_to_its_parent(tmp_path: Path) -> None:
    make_maildir(tmp_path / "Maildir", {"cur/1.M1P1.h:2,S": b"S: x\n\n"})
    with pytest.raises(InvalidInput) as excinfo:
        detect_kind(tmp_path / "Maildir" / "cur")
    assert excinfo.value.advice == [
        f"this looks like part of a Maildir: pass {tmp_path / 'Maildir'}"
    ]


# --- streaming ----------------------------------------------------------------------------------


def test_messages_come_out_before_the_rest_of_the_file_exists(tmp_path: Path) -> None:
    mbox = tmp_path / "growing.mbox"
    mbox.write_bytes(
        b"From a@b Mon Jan  1 00:00:00 2024\nS: 1\n\none\n\nFrom a@b Mon Jan  1 00:00:00 2024\n"
    )
    assert inspect.isgenerator(iter_messages(mbox))  # lazy: nothing is read before next()
    messages = iter_messages(mbox)
    assert next(messages).raw == b"S: 1\n\none\n"
    with mbox.open("ab") as f:  # the second message is written only now
        f.write(b"S: 2\n\ntwo\n\n")
    assert [m.raw for m in messages] == [b"S: 2\n\ntwo\n"]


def test_reading_a_20_mb_mbox_keeps_one_message_in_memory(tmp_path: Path) -> None:
    mbox = tmp_path / "big.mbox"
    line = b"x" * 999 + b"\n"
    message = b"Subject: big\n\n" + line * 100  # ~100 KB
    with mbox.open("wb") as f:
        for _ in range(200):
            f.write(b"From a@b Mon Jan  1 00:00:00 2024\n" + message + b"\n")
    assert mbox.stat().st_size > 20_000_000
    tracemalloc.start()
    try:
        count = sum(1 for m in iter_messages(mbox) if m.raw == message)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 200
    assert peak < 2_000_000  # a few messages' worth, not 20 MB


def test_a_line_longer_than_the_buffer_is_read_in_pieces(tmp_path: Path) -> None:
    mbox = tmp_path / "long.mbox"
    long_from = b"From a@b Mon Jan  1 00:00:00 2024 " + b"y" * 200_000 + b"\n"
    body = b"S: l\n\n" + b">" * 100_000 + b"From deep quoting\n" + b"z" * 300_000
    mbox.write_bytes(long_from + body + b"\n\n" + long_from + b"S: 2\n")
    assert raws(mbox) == [
        b"S: l\n\n" + b">" * 99_999 + b"From deep quoting\n" + b"z" * 300_000 + b"\n",
        b"S: 2\n",
    ]


# --- the real corpus ------------------------------------------------------------------------------


@pytest.mark.corpus
def test_every_corpus_file_is_one_message() -> None:
    """Each corpus file is a one-message mbox (a ``From_`` line first) or a bare message."""
    kinds = {"mbox": 0, "eml": 0}
    for path in corpus_files():
        kinds[detect_kind(path)] += 1
        data = path.read_bytes()
        [message] = iter_messages(path)
        if data.startswith(b"From "):
            # Without its From_ line, one ">" less on ">From" lines, without the final blank line.
            expected = re.sub(rb"(?m)^>(>*From )", rb"\1", data.split(b"\n", 1)[1])
            assert message.raw == (expected[:-1] if expected.endswith(b"\n\n") else expected), path
        else:
            assert message.raw == data, path
    assert kinds == {"mbox": 5453, "eml": 593}


@pytest.mark.corpus
def test_the_corpus_concatenated_as_mboxo_splits_exactly_between_files(tmp_path: Path) -> None:
    """The corpus's own ``From_`` lines, real ``>From`` and ``From`` body lines included."""
    files = [p for p in corpus_files() if p.read_bytes().startswith(b"From ")]
    mbox = tmp_path / "corpus.mbox"
    with mbox.open("wb") as f:
        for path in files:
            data = path.read_bytes()
            f.write(data if data.endswith(b"\n\n") else data + b"\n")  # all end in "\n"
    expected = [message.raw for path in files for message in iter_messages(path)]
    assert raws(mbox) == expected
    assert len(expected) == 5453
