"""Read messages out of mail files: mbox, Maildir(++), Apple Mail exports and single ``.eml``.

Every reader streams (one message in memory at a time) and hands back the message bytes exactly
as stored; the only bytes removed are those the container format itself added (the mbox
``From_`` line, the blank separator line, one ``>`` of ``>From`` quoting). Nothing is ever
written to the source.

**Why not** ``mailbox.mbox``: it scans the whole file for a table of contents before the first
message comes out, splits on *every* line starting ``From `` (so an unquoted body line such as
``From here on...`` cuts a message in two and the line is lost), leaves ``>From`` quoting in place
and, on CRLF files (Google Takeout), keeps the ``\\r\\n`` separator line in the message. So mbox
files are read here with a line reader whose buffer is bounded (``CHUNK``: longer lines come in
pieces), and Maildirs with ``os.listdir``, which is all ``mailbox.Maildir`` would do for us.

**Where an mbox message starts.** At the first line of the file, and after that at a line that

1. starts ``From `` and is preceded by an empty line (``\\n`` or ``\\r\\n``): the rule of
   RFC 4155 and of most readers; and
2. looks like a ``From_`` line, i.e. carries a time (``12:36``) and a four-digit year, as mutt's
   ``is_from`` demands. Real mboxo files (and one message of the SpamAssassin corpus) contain
   body paragraphs that begin ``From `` after a blank line; without this check such a line would
   be taken for a separator and dropped. Every writer we know (Takeout ``From 1234@xxx Mon Jan 01
   ...``, Thunderbird ``From - Mon ...``, Apple Mail, git, mutt, ours) puts the date there.

**Quoting.** One ``>`` is removed from every line matching ``^>+From `` (mboxrd). Takeout,
Thunderbird and Apple Mail files are mboxrd or mboxo and nothing in the file says which; for an
mboxo file, a body line that really began ``>From `` loses its ``>``. That loss is in the
format (mboxo cannot tell the two apart), not in this reader.

**Separator.** The empty line before the next ``From_`` line (or at the end of the file) is the
separator and is removed; a file that ends without one keeps its last bytes. A message that did
not end in a newline cannot be stored in mbox without gaining one, so :class:`MboxWriter
<mailmatch.files.writers.MboxWriter>` marks it by writing ``NOEOL_SENDER`` as the envelope sender
of its ``From_`` line, and this reader then removes that added ``\\n`` too: the round trip is exact
and other programs still see an ordinary mbox.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from imapclient.imap_utf7 import decode as utf7_decode
from imapclient.imap_utf7 import encode as utf7_encode

from mailmatch.errors import InvalidInput

__all__ = [
    "CHUNK",
    "NOEOL_SENDER",
    "FileMessage",
    "detect_kind",
    "folder_from_maildir",
    "iter_messages",
]

#: Longest piece of a line read at once: an mbox line of a gigabyte costs 64 KiB, not a gigabyte.
CHUNK = 64 * 1024
#: Envelope sender of a ``From_`` line whose message gained a ``\n`` it did not have (see above).
NOEOL_SENDER = b"mailmatch+noeol@localhost"

_NOEOL_FROM = b"From " + NOEOL_SENDER + b" "
_QUOTED_FROM = re.compile(rb">+From ")
_TIME = re.compile(rb"\d{1,2}:\d\d")
_YEAR = re.compile(rb"(?<!\d)\d{4}(?!\d)")
#: An RFC 5322 header field name and its colon: how a bare message (``.eml``) begins.
_HEADER = re.compile(rb"[\x21-\x39\x3b-\x7e]+[ \t]*:")
#: Maildir info after the unique name: ``:2,FLAGS`` (``;`` and ``!`` where ``:`` is not allowed).
_MAILDIR_INFO = re.compile(r"[:;!]2,([A-Za-z]*)$")
_BLANK = (b"\n", b"\r\n")


@dataclass(frozen=True)
class FileMessage:
    """One message as found in a file, and where it was found."""

    raw: bytes  # the message exactly, without the mbox From_ line, mboxrd quoting undone
    source: (
        str  # where it came from, e.g. "inbox.mbox#17" or "Maildir/cur/1700000000.M1P2.host:2,S"
    )
    flags: str = ""  # Maildir info flags (e.g. "S" seen) when known
    folder: str | None = None  # Maildir++ subfolder / Apple Mail mailbox, levels joined by "/"


def detect_kind(path: Path) -> str:
    """Say what ``path`` holds: ``"mbox"``, ``"maildir"``, ``"eml"`` or ``"apple_mbox_dir"``.

    Decided by content, not by name, because real files are named anything (Thunderbird's
    ``Inbox`` has no extension; the SpamAssassin corpus is ``.txt``): a directory with ``cur/``
    and ``new/`` is a Maildir, a directory holding a file ``mbox`` is an Apple Mail export, a file
    beginning ``From `` (or empty) is an mbox and a file beginning with a header line is a
    single message. Anything else raises :class:`~mailmatch.errors.InvalidInput` saying what was
    expected, so a wrong path fails before an import starts rather than importing junk.
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise InvalidInput(f"{path} does not exist") from None
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(mode):
        return _detect_dir(path)
    if not stat.S_ISREG(mode):
        raise InvalidInput(f"{path} is neither a regular file nor a directory")
    try:
        with path.open("rb") as f:
            head = f.read(4096)
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}") from None
    if not head or head.startswith(b"From "):
        return "mbox"
    if _HEADER.match(head):
        return "eml"
    advice = ["pass an mbox file, a single message (.eml), a Maildir or an Apple Mail .mbox folder"]
    if path.suffix == ".msf" and path.with_suffix("").is_file():
        advice.insert(0, f"this is a Thunderbird index; the mail is in {path.with_suffix('')}")
    raise InvalidInput(
        f"{path} is not a mail file: it neither starts with an mbox 'From ' line "
        "nor with a message header",
        advice=advice,
    )


def _detect_dir(path: Path) -> str:
    if (path / "cur").is_dir() and (path / "new").is_dir():
        return "maildir"
    if (path / "mbox").is_file():
        return "apple_mbox_dir"
    expected = (
        "expected a Maildir (with cur/ and new/) or an Apple Mail export "
        "(a Name.mbox folder holding a file named mbox)"
    )
    try:
        entries = sorted(os.listdir(path))
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}") from None
    if not entries:
        raise InvalidInput(f"{path} is an empty directory; {expected}")
    advice = []
    if path.name in ("cur", "new", "tmp"):
        advice.append(f"this looks like part of a Maildir: pass {path.parent}")
    exports = [name for name in entries if name.endswith(".mbox")]
    if exports:
        advice.append("pass each mailbox on its own, e.g. " + str(path / exports[0]))
    raise InvalidInput(f"{path} holds no mail this reader knows; {expected}", advice=advice)


def iter_messages(path: Path) -> Iterator[FileMessage]:
    """Yield every message stored at ``path``, one at a time, in file (or sorted name) order.

    A generator: nothing is read until the first message is asked for, and a multi-gigabyte
    mbox never has more than one message (plus one ``CHUNK``) in memory. The kind of ``path`` is
    checked up front by :func:`detect_kind`, so a wrong path raises ``InvalidInput`` on the
    first ``next()``. Sources are given relative to ``path``'s parent (``inbox.mbox#17``, message
    numbers count from 1).
    """
    kind = detect_kind(path)
    if kind == "mbox":
        yield from _iter_mbox(path, path.name, None)
    elif kind == "maildir":
        yield from _iter_maildir(path, path.name, None)
    elif kind == "apple_mbox_dir":
        yield from _iter_apple(path, path.name, _mailbox_name(path))
    else:
        yield FileMessage(raw=path.read_bytes(), source=path.name)


# --- mbox -----------------------------------------------------------------------------------


def _lines(f: BinaryIO) -> Iterator[tuple[bytes, bool]]:
    """Yield ``(piece, starts_line)``: whole lines, or pieces of at most ``CHUNK`` bytes.

    A first piece is always long enough to decide whether the line is a ``From_`` line or a
    quoted ``>From`` line, except for a run of more than ``CHUNK`` ``>`` characters, which is
    joined until something else appears.
    """
    starts_line = True
    while piece := f.readline(CHUNK):
        if starts_line:
            while not piece.endswith(b"\n") and not piece.strip(b">"):
                more = f.readline(CHUNK)
                if not more:
                    break
                piece += more
        yield piece, starts_line
        starts_line = piece.endswith(b"\n")


def _is_from_line(line: bytes) -> bool:
    """A separator ``From_`` line: ``From sender date``, the date showing a time and a year."""
    return line.startswith(b"From ") and bool(_TIME.search(line)) and bool(_YEAR.search(line))


def _iter_mbox(path: Path, label: str, folder: str | None) -> Iterator[FileMessage]:
    """Split an mbox by the rules in the module docstring; see there for the why."""
    with path.open("rb") as f:
        message: list[bytes] | None = None  # None until the first line
        pending: bytes | None = None  # an empty line: the separator if a From_ line follows
        in_from_line = False  # skipping the rest of an over-long From_ line
        noeol = False
        number = 0
        for piece, starts_line in _lines(f):
            if not starts_line:
                if not in_from_line:
                    assert message is not None  # a continuation always follows a first piece
                    message.append(piece)
                continue
            in_from_line = False
            if message is None or (pending is not None and _is_from_line(piece)):
                if message is not None:
                    yield _mbox_message(message, noeol, pending, label, number, folder)
                message, pending, number = [], None, number + 1
                if piece.startswith(b"From "):
                    noeol = piece.startswith(_NOEOL_FROM)
                    in_from_line = not piece.endswith(b"\n")
                    continue
                noeol = False  # text before any From_ line: still a message, kept whole
            if pending is not None:
                message.append(pending)
                pending = None
            if piece in _BLANK:
                pending = piece
            elif piece[:1] == b">" and _QUOTED_FROM.match(piece):
                message.append(piece[1:])
            else:
                message.append(piece)
        if message is not None:
            yield _mbox_message(message, noeol, pending, label, number, folder)


def _mbox_message(
    lines: list[bytes],
    noeol: bool,
    separator: bytes | None,
    label: str,
    number: int,
    folder: str | None,
) -> FileMessage:
    raw = b"".join(lines)
    if noeol and separator is not None and raw.endswith(b"\n"):
        raw = raw[:-1]  # the newline MboxWriter had to add; see the module docstring
    return FileMessage(raw=raw, source=f"{label}#{number}", folder=folder)


# --- Maildir ----------------------------------------------------------------------------------


def _iter_maildir(root: Path, label: str, folder: str | None) -> Iterator[FileMessage]:
    """Messages of ``cur/`` and ``new/`` by sorted name (``tmp/`` is never read), then subfolders.

    Sorting both directories together by name keeps the order stable across runs and, as names
    begin with the delivery time, roughly chronological. Names starting with ``.`` are skipped
    as the Maildir spec asks. A message that a running mail client moves from ``new/`` to
    ``cur/`` (or renames to change flags) while we read is looked up again by its unique name;
    one deleted meanwhile is gone and is skipped.
    """
    entries: list[tuple[str, str]] = []
    for sub in ("cur", "new"):
        try:
            names = os.listdir(root / sub)
        except FileNotFoundError:
            continue
        entries.extend((name, sub) for name in names if not name.startswith("."))
    for name, sub in sorted(entries):
        found = _read_maildir_file(root, sub, name)
        if found is None:
            continue
        sub, name, raw = found
        info = _MAILDIR_INFO.search(name)
        flags = info.group(1) if info and sub == "cur" else ""
        yield FileMessage(raw=raw, source=f"{label}/{sub}/{name}", flags=flags, folder=folder)
    for child in _maildir_subfolders(root):
        name = folder_from_maildir(child.name)
        yield from _iter_maildir(
            child, f"{label}/{child.name}", name if folder is None else f"{folder}/{name}"
        )


def _read_maildir_file(root: Path, sub: str, name: str) -> tuple[str, str, bytes] | None:
    try:
        return sub, name, (root / sub / name).read_bytes()
    except FileNotFoundError:
        pass
    unique = re.split(r"[:;!]", name, maxsplit=1)[0]
    for other in ("cur", "new"):
        try:
            names = os.listdir(root / other)
        except FileNotFoundError:
            continue
        for candidate in sorted(names):
            if candidate != name and re.split(r"[:;!]", candidate, maxsplit=1)[0] == unique:
                try:
                    return other, candidate, (root / other / candidate).read_bytes()
                except FileNotFoundError:
                    continue
    return None


def _maildir_subfolders(root: Path) -> list[Path]:
    """Maildir++ subfolders (``.Sent``, ``.Archive.2020``): dot-directories with ``cur/``."""
    children = []
    for name in sorted(os.listdir(root)):
        child = root / name
        if name.startswith(".") and name not in (".", "..") and (child / "cur").is_dir():
            children.append(child)
    return children


def folder_from_maildir(dirname: str) -> str:
    """``.Archive.2020`` -> ``Archive/2020``; ``.Entw&APw-rfe`` -> ``Entwürfe``.

    Maildir++ separates levels with ``.`` and stores names in IMAP's modified UTF-7 (as Dovecot,
    Courier and mbsync do); folder names here use ``/`` like the mail clients people know, for
    Maildir++ and Apple Mail alike. A part that is not valid modified UTF-7 is kept as it is.
    """
    parts = []
    for part in dirname.removeprefix(".").split("."):
        decoded = part
        if "&" in part:
            try:
                candidate = str(utf7_decode(part.encode("ascii")))
                if utf7_encode(candidate) == part.encode("ascii"):
                    decoded = candidate
            except (UnicodeError, ValueError):
                pass
        parts.append(decoded)
    return "/".join(parts)


# --- Apple Mail ---------------------------------------------------------------------------------


def _mailbox_name(path: Path) -> str:
    return path.name[: -len(".mbox")] if path.name.endswith(".mbox") else path.name


def _iter_apple(path: Path, label: str, folder: str) -> Iterator[FileMessage]:
    """``Name.mbox/mbox``, then child mailboxes ``Name.mbox/Child.mbox/mbox`` as ``Name/Child``."""
    yield from _iter_mbox(path / "mbox", f"{label}/mbox", folder)
    for name in sorted(os.listdir(path)):
        child = path / name
        if name.endswith(".mbox") and (child / "mbox").is_file():
            yield from _iter_apple(child, f"{label}/{name}", f"{folder}/{_mailbox_name(child)}")
