"""Split an mbox file into messages, keeping each message's bytes exactly as stored.

**Why not** ``mailbox.mbox``: it scans the whole file for a table of contents before the first
message comes out, splits on *every* line starting ``From `` (so an unquoted body line such as
``From here on...`` cuts a message in two and the line is lost), leaves ``>From`` quoting in place,
ignores ``Content-Length`` and, on CRLF files (Google Takeout), keeps the ``\\r\\n`` separator line
in the message. So mbox files are read here with a line reader whose buffer is bounded
(``CHUNK``: longer lines come in pieces).

**Where a message ends: Content-Length first.** mboxcl2 files (Dovecot's own mbox, Solaris
``mail``, some mutt setups) do not quote body lines starting ``From ``; they count the body's bytes
in a ``Content-Length`` header instead. That header is honoured, as mutt does, only when it is
borne out by the file: the counted bytes must end exactly at the end of the file, or be followed
by one empty line and then a ``From_`` line (rule 2 below) or the end of the file; and never in a
message mailmatch wrote (its ``From_`` line names ``MBOX_SENDER`` or ``NOEOL_SENDER``): those files
are mboxrd, and a message's own ``Content-Length`` says nothing about them. The body is then
taken verbatim, ``>From`` lines included: the count is of the bytes as stored, and an mboxcl2
writer never quotes. A ``Content-Length`` that lands anywhere else is wrong (the message was edited,
or the header came from elsewhere) and is ignored; the rules below apply.

**Otherwise a message starts** at the first line of the file, and after that at a line that

1. starts ``From `` and is preceded by an empty line (``\\n`` or ``\\r\\n``): the rule of
   RFC 4155 and of most readers; and
2. looks like a ``From_`` line, i.e. carries a time (``12:36``) and a four-digit year, as mutt's
   ``is_from`` demands. Real mboxo files (and one message of the SpamAssassin corpus) contain
   body paragraphs that begin ``From `` after a blank line; without this check such a line would
   be taken for a separator and dropped. Every writer we know (Takeout ``From 1234@xxx Mon Jan 01
   ...``, Thunderbird ``From - Mon ...``, Apple Mail, git, mutt, ours) puts the date there.

**Quoting.** Outside counted bodies, one ``>`` is removed from every line matching ``^>+From ``
(mboxrd). Takeout, Thunderbird and Apple Mail files are mboxrd or mboxo and nothing in the file
says which; for an mboxo file, a body line that really began ``>From `` loses its ``>``. That loss
is in the format (mboxo cannot tell the two apart), not in this reader.

**Separator.** The empty line before the next ``From_`` line (or at the end of the file) is the
separator and is removed; a file that ends without one keeps its last bytes. A message that did
not end in a newline cannot be stored in mbox without gaining one, so :class:`MboxWriter
<mailmatch.files.writers.MboxWriter>` marks it by writing ``NOEOL_SENDER`` as the envelope sender
of its ``From_`` line, and this reader then removes that added ``\\n`` too: the round trip is exact
and other programs still see an ordinary mbox.

**A cut file.** Only the last message of a file can be cut short (a copy or download that
stopped, a full disk). It is still handed out, with :attr:`FileMessage.truncated` saying why it
looks cut: its ``Content-Length`` promises more bytes than the file holds, the file ends in the
middle of a line, or it is a multipart message whose closing boundary never came.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Iterator
from email.parser import BytesHeaderParser
from email.policy import compat32
from pathlib import Path
from typing import BinaryIO

from mailmatch.files.models import FileMessage, FileProblem, OnProblem

__all__ = ["CHUNK", "MBOX_SENDER", "NOEOL_SENDER", "iter_mbox", "open_regular_file"]

#: Longest piece of a line read at once: an mbox line of a gigabyte costs 64 KiB, not a gigabyte.
CHUNK = 64 * 1024
#: Envelope sender of the ``From_`` lines :class:`~mailmatch.files.writers.MboxWriter` writes.
MBOX_SENDER = b"mailmatch@localhost"
#: Envelope sender of a ``From_`` line whose message gained a ``\n`` it did not have (see above).
NOEOL_SENDER = b"mailmatch+noeol@localhost"

_NOEOL_FROM = b"From " + NOEOL_SENDER + b" "
_OUR_FROM = b"From " + MBOX_SENDER + b" "
_QUOTED_FROM = re.compile(rb">+From ")
_TIME = re.compile(rb"\d{1,2}:\d\d")
_YEAR = re.compile(rb"(?<!\d)\d{4}(?!\d)")
_BLANK = (b"\n", b"\r\n")
_CONTENT_LENGTH = b"content-length:"
_C = frozenset(b"Cc")


def _lines(f: BinaryIO) -> Iterator[tuple[bytes, bool]]:
    """Yield ``(piece, starts_line)``: whole lines, or pieces of at most ``CHUNK`` bytes.

    A first piece is always long enough to decide whether the line is a ``From_`` line or a
    quoted ``>From`` line, except for a run of more than ``CHUNK`` ``>`` characters, which is
    joined until something else appears. The file may be moved (``seek``) between two pieces
    as long as it is left at the start of a line.
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


def _length(value: bytes) -> int | None:
    value = value.strip()
    return int(value) if value.isdigit() and len(value) < 19 else None


def _counted_body(f: BinaryIO, length: int) -> bytes | None:
    """The next ``length`` bytes if the file bears the count out (see the module docstring).

    On success the file is left just after the body; otherwise where it was.
    """
    start = f.tell()
    end = start + length
    if end > os.fstat(f.fileno()).st_size:
        return None
    f.seek(end)
    tail = f.readline(CHUNK)
    if tail in _BLANK:
        after = f.readline(CHUNK)
        landed = not after or _is_from_line(after)
    else:
        landed = not tail
    f.seek(start)
    if not landed:
        return None
    body = f.read(length)
    return body if len(body) == length else None


def open_regular_file(path: Path) -> BinaryIO:
    """Open a regular file for reading; ``OSError`` for anything else, without ever blocking.

    ``O_NONBLOCK`` makes opening a FIFO return at once instead of waiting for a writer that
    never comes; ``fstat`` on the open file then turns FIFOs, devices and directories away.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "a directory, not a file", str(path))
        if not stat.S_ISREG(mode):
            raise OSError(errno.EINVAL, "not a regular file (a FIFO, socket or device)", str(path))
        return open(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def iter_mbox(
    path: Path, label: str, folder: str | None, on_problem: OnProblem
) -> Iterator[FileMessage]:
    """Split one mbox by the rules in the module docstring; see there for the why.

    A file that cannot be opened, or fails while being read (an I/O error), is reported to
    ``on_problem``; the messages read before the failure have been handed out already.
    """
    try:
        f = open_regular_file(path)
    except OSError as exc:
        on_problem(FileProblem(label, exc.strerror or str(exc)))
        return
    with f:
        number = 0
        try:
            for message in _split(f, label, folder):
                number += 1
                yield message
        except OSError as exc:
            why = exc.strerror or str(exc)
            on_problem(FileProblem(label, f"{why} after message {number}; the rest was not read"))


def _split(f: BinaryIO, label: str, folder: str | None) -> Iterator[FileMessage]:
    """The splitting loop: the import's hot path, hence one flat loop over local variables."""
    message: list[bytes] | None = None  # None until the first line
    pending: bytes | None = None  # an empty line: the separator if a From_ line follows
    in_from_line = False  # skipping the rest of an over-long From_ line
    noeol = False
    number = 0
    headers = False  # in the message's header block
    length: int | None = None  # its Content-Length, when it has one
    counted = False  # its body was taken by Content-Length
    ours = False  # written by MboxWriter: mboxrd, Content-Length is never honoured
    body_at = 0  # index in ``message`` where the body starts (once the headers ended)
    for piece, starts_line in _lines(f):
        if not starts_line:
            if not in_from_line:
                assert message is not None  # a continuation always follows a first piece
                message.append(piece)
            continue
        in_from_line = False
        if message is None or (pending is not None and _is_from_line(piece)):
            if message is not None:
                yield _message(message, noeol, pending, label, number, folder)
            message, pending, number = [], None, number + 1
            headers, length, counted, body_at = True, None, False, 0
            if piece.startswith(b"From "):
                noeol = piece.startswith(_NOEOL_FROM)
                ours = noeol or piece.startswith(_OUR_FROM)
                in_from_line = not piece.endswith(b"\n")
                continue
            noeol = ours = False  # text before any From_ line: still a message, kept whole
        if pending is not None:
            message.append(pending)
            pending = None
        if piece in _BLANK:
            pending = piece
            if headers:
                headers = False
                body_at = len(message) + 1
                body = None if length is None or ours else _counted_body(f, length)
                if body is not None:
                    message += (piece, body)
                    pending, counted = None, True
        elif piece[:1] == b">" and _QUOTED_FROM.match(piece):
            message.append(piece[1:])
        else:
            # (piece[0] compares ints: ten times cheaper here than a slice, on every header line)
            if headers and piece[0] in _C and piece[:15].lower() == _CONTENT_LENGTH:
                length = _length(piece[15:])
            message.append(piece)
    if message is not None:
        last = _message(message, noeol, pending, label, number, folder)
        if not counted:
            why = _truncation(last.raw, message, body_at, length, pending is not None)
            if why is not None:
                last = FileMessage(last.raw, last.source, last.flags, last.folder, why)
        yield last


def _message(
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


def _truncation(
    raw: bytes, pieces: list[bytes], body_at: int, length: int | None, separated: bool
) -> str | None:
    """Why the last message of a file looks cut short, or None (see the module docstring).

    Runs once per file, so it may afford to parse the header block.
    """
    if body_at and length is not None:
        got = sum(len(piece) for piece in pieces[body_at:])
        if got < length:
            return f"its Content-Length promises {length} bytes of body, the file ends after {got}"
    if pieces and not separated and not pieces[-1].endswith(b"\n"):
        return "the file ends in the middle of a line"
    if not body_at:
        return None
    try:
        headers = BytesHeaderParser(policy=compat32).parsebytes(b"".join(pieces[:body_at]))
        multipart = headers.get_content_maintype() == "multipart"
        boundary = headers.get_boundary() if multipart else None
    except Exception:  # a header block the parser chokes on: no evidence either way
        return None
    if boundary and b"--" + boundary.encode("utf-8", "surrogateescape") + b"--" not in raw:
        return f"it is a multipart message whose closing boundary {boundary!r} never comes"
    return None
