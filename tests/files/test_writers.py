"""Writing Maildir and mbox exports, and reading them back byte for byte."""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from mailmatch.errors import AlreadyExists, InvalidInput
from mailmatch.files import MaildirWriter, MboxWriter, iter_messages
from tests.files import corpus_files

#: The awkward cases: what mbox has to escape or frame, and what a careless writer loses.
EDGE_CASES = [
    b"",  # an empty message
    b"Subject: no final newline\n\nbody",
    b"Subject: crlf\r\n\r\nbody\r\n",
    b"Subject: crlf, no final newline\r\n\r\nbody",
    b"Subject: ends in a bare CR\n\nbody\r",
    b"Subject: blank lines at the end\n\nbody\n\n\n",
    b"From the first line, not an envelope\n",
    b"Subject: x\n\nFrom here on\n\nFrom a@b Mon Jan  1 00:00:00 2024\n>From 1\n>>From 2\n",
    b"Subject: x\n\n>From",
    b"\n",
    b"\r\n",
    b"From mailmatch+noeol@localhost Mon Jan  1 00:00:00 2024\nlooks like our marker\n",
    # A Content-Length of the message's own, right or wrong, must not move where it ends.
    b"Content-Length: 6\n\nhello\n",
    b"Content-Length: 5\n\nhello",
    b"Content-Length: 0\n\n",
    b"Content-Length: 35\n\nFrom a@b Mon Jan  1 00:00:00 2024\n\n",
    b"Content-Length: 1\n\n\n\nFrom a@b Mon Jan  1 00:00:00 2024\nx\n",
]


def test_maildir_delivers_new_mail_to_new_and_flagged_mail_to_cur(tmp_path: Path) -> None:
    writer = MaildirWriter(tmp_path / "Maildir", fsync=False)
    unseen = writer.add(b"Subject: a\n\n")
    seen = writer.add(b"Subject: b\n\n", flags="SF")
    sent = writer.add(b"Subject: c\n\n", flags="S", folder="Sent")
    old = writer.add(b"Subject: d\n\n", folder="Archive/2020")
    drafts = writer.add(b"Subject: e\n\n", folder="Entwürfe")

    root = tmp_path / "Maildir"
    assert unseen.parent == root / "new" and ":" not in unseen.name
    assert seen.parent == root / "cur" and seen.name.endswith(":2,FS")  # flags in ASCII order
    assert sent.parent == root / ".Sent" / "cur"
    assert old.parent == root / ".Archive.2020" / "new"
    assert drafts.parent == root / ".Entw&APw-rfe" / "new"
    assert (root / ".Sent" / "maildirfolder").is_file()
    assert seen.read_bytes() == b"Subject: b\n\n"
    assert not any((root / "tmp").iterdir())  # written to tmp/, then moved
    # time.M<microseconds>P<pid>Q<counter>.host, as Dovecot and Python's mailbox name them
    seconds, rest = unseen.name.split(".", 1)
    assert abs(int(seconds) - time.time()) < 60 and rest.startswith("M") and "P" in rest
    assert len({unseen.name.split(":")[0], seen.name.split(":")[0]}) == 2

    found = {(m.folder, m.flags, m.raw) for m in iter_messages(root)}
    assert found == {
        (None, "", b"Subject: a\n\n"),
        (None, "FS", b"Subject: b\n\n"),
        ("Sent", "S", b"Subject: c\n\n"),
        ("Archive/2020", "", b"Subject: d\n\n"),
        ("Entwürfe", "", b"Subject: e\n\n"),
    }


@pytest.mark.parametrize(
    ("flags", "folder"), [("S:", None), ("2,S", None), ("", "v1.2"), ("", "a//b"), ("", "..")]
)
def test_maildir_refuses_what_it_cannot_store(tmp_path: Path, flags: str, folder: str) -> None:
    with pytest.raises(InvalidInput):
        MaildirWriter(tmp_path, fsync=False).add(b"x", flags=flags, folder=folder)


def test_mbox_is_mboxrd_with_a_blank_line_between_messages(tmp_path: Path) -> None:
    path = tmp_path / "export.mbox"
    when = datetime(2024, 1, 5, 9, 3, 7, tzinfo=timezone(timedelta(hours=2)))
    with MboxWriter(path) as writer:
        writer.add(b"Subject: a\n\nFrom me\n>From you\n", date=when)
        writer.add(b"Subject: b\n\nno newline", date=when)
    assert path.read_bytes() == (
        b"From mailmatch@localhost Fri Jan  5 07:03:07 2024\n"  # in UTC
        b"Subject: a\n\n>From me\n>>From you\n"
        b"\n"
        b"From mailmatch+noeol@localhost Fri Jan  5 07:03:07 2024\n"  # the reader drops the \n
        b"Subject: b\n\nno newline\n"
        b"\n"
    )
    assert [m.raw for m in iter_messages(path)] == [
        b"Subject: a\n\nFrom me\n>From you\n",
        b"Subject: b\n\nno newline",
    ]


def test_mbox_never_overwrites(tmp_path: Path) -> None:
    path = tmp_path / "mine.mbox"
    path.write_bytes(b"From a@b Mon Jan  1 00:00:00 2024\nS: keep me\n\n")
    with pytest.raises(AlreadyExists):
        MboxWriter(path)
    assert path.read_bytes() == b"From a@b Mon Jan  1 00:00:00 2024\nS: keep me\n\n"
    writer = MboxWriter(tmp_path / "new.mbox")
    writer.close()
    with pytest.raises(ValueError, match="closed"):
        writer.add(b"x")


def test_appending_to_an_mbox_export_that_fails_leaves_it_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "export.mbox"
    with MboxWriter(path, fsync=False) as writer:
        writer.add(b"Subject: 1\n\none\n")
    before = path.read_bytes()
    with pytest.raises(RuntimeError), MboxWriter(path, fsync=False, append=True) as writer:
        writer.add(b"Subject: 2\n\ntwo\n")
        raise RuntimeError("the disk went away")
    assert path.read_bytes() == before
    with MboxWriter(path, fsync=False, append=True) as writer:
        writer.add(b"Subject: 2\n\ntwo\n")
    assert [m.raw for m in iter_messages(path)] == [b"Subject: 1\n\none\n", b"Subject: 2\n\ntwo\n"]


def test_a_maildir_name_given_by_the_caller_is_stored_once(tmp_path: Path) -> None:
    writer = MaildirWriter(tmp_path / "Maildir", fsync=False)
    first = writer.add(b"Subject: a\n\n", folder="Sent", unique="1700000000.abc.mailmatch")
    assert first == tmp_path / "Maildir" / ".Sent" / "new" / "1700000000.abc.mailmatch"
    first.rename(first.parent.parent / "cur" / f"{first.name}:2,S")  # a mail client read it
    again = MaildirWriter(tmp_path / "Maildir", fsync=False)
    assert again.has("1700000000.abc.mailmatch", "Sent")
    assert not again.has("1700000000.abc.mailmatch")  # INBOX does not hold it
    with pytest.raises(AlreadyExists):
        again.add(b"Subject: a\n\n", folder="Sent", unique="1700000000.abc.mailmatch")
    with pytest.raises(InvalidInput):
        again.add(b"x", unique="../escape")


def test_edge_cases_round_trip_through_both_formats(tmp_path: Path) -> None:
    with MboxWriter(tmp_path / "edge.mbox") as writer:
        for raw in EDGE_CASES:
            writer.add(raw)
    assert [m.raw for m in iter_messages(tmp_path / "edge.mbox")] == EDGE_CASES
    assert_maildir_round_trip(tmp_path / "Maildir", EDGE_CASES)


def test_random_messages_round_trip_through_mbox(tmp_path: Path) -> None:
    """Messages built from the pieces mbox framing cares about, in every order."""
    pieces = [b"\n", b"\r", b"\r\n", b">", b"From ", b"x", b" ", b"12:00 2024", b"@localhost "]
    pieces += [b"Content-Length: 1\n", b"Content-Length: 0\n", b"Content-Length: 2\n"]
    rng = random.Random(20240101)
    messages = [
        b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 12))) for _ in range(5000)
    ]
    with MboxWriter(tmp_path / "random.mbox", fsync=False) as writer:
        for raw in messages:
            writer.add(raw)
    assert [m.raw for m in iter_messages(tmp_path / "random.mbox")] == messages


def assert_maildir_round_trip(root: Path, messages: list[bytes], fsync: bool = True) -> None:
    writer = MaildirWriter(root, fsync=fsync)
    written = {writer.add(raw).name: raw for raw in messages}
    assert {m.source.rsplit("/", 1)[1]: m.raw for m in iter_messages(root)} == written


@pytest.mark.corpus
def test_the_whole_corpus_round_trips_through_mbox(tmp_path: Path) -> None:
    """All 6,046 real files as they are (their own ``From_`` lines included) plus the edge cases."""
    messages = [path.read_bytes() for path in corpus_files()] + EDGE_CASES
    with MboxWriter(tmp_path / "corpus.mbox") as writer:
        for raw in messages:
            writer.add(raw)
    assert [m.raw for m in iter_messages(tmp_path / "corpus.mbox")] == messages


@pytest.mark.corpus
def test_the_whole_corpus_round_trips_through_maildir(tmp_path: Path) -> None:
    messages = [path.read_bytes() for path in corpus_files()] + EDGE_CASES
    assert_maildir_round_trip(tmp_path / "Maildir", messages)
