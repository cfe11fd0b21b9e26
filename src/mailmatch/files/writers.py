"""Write messages out as a Maildir or an mboxrd file, so that reading them back is byte-exact.

The contract: for every message ``raw`` written, :func:`~mailmatch.files.readers.iter_messages`
on the result yields ``raw`` again, byte for byte (empty messages, CRLF, bare CR, no final
newline, body lines starting ``From `` or ``>From `` included).

* **Maildir** stores each message as a file of exactly its bytes, so nothing needs escaping. It
  follows the delivery protocol: write to ``tmp/``, ``fsync``, then link into ``new/`` (no flags)
  or ``cur/`` (``:2,FLAGS``) so that no reader ever sees half a message.
* **mbox** (mboxrd) needs three adjustments, each undone by the reader: the ``From_`` line,
  one more ``>`` on lines matching ``^>*From ``, and an empty line after each message. A message
  that does not end in ``\\n`` must gain one before that empty line; the ``From_`` line then
  names :data:`~mailmatch.files.readers.NOEOL_SENDER` as envelope sender, and the reader drops
  the added byte. Other programs see an ordinary mbox (with that newline added, as every mbox
  writer does).

Neither writer ever overwrites: a Maildir name is unique and linked with ``os.link`` (which
fails rather than replace), an mbox file is created exclusively, or, to add to an export made
earlier, opened for appending only when mailmatch wrote it (its first ``From_`` line names
:data:`MBOX_SENDER`): mail the user keeps elsewhere is never written into.

**Exporting twice.** ``MaildirWriter.add`` takes an optional ``unique`` name; a caller that
derives it from the message (as the export does, from its SHA-256) asks :meth:`MaildirWriter.has`
first and so never stores the same message twice in one folder, even after a mail client moved it
from ``new/`` to ``cur/`` and gave it flags (the unique part of a name never changes).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from imapclient.imap_utf7 import encode as _utf7_encode

from mailmatch.errors import AlreadyExists, InvalidInput
from mailmatch.files.mbox import MBOX_SENDER, NOEOL_SENDER

__all__ = ["MBOX_SENDER", "MaildirWriter", "MboxWriter"]


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
#: Start of every line that mboxrd quotes: the reader strips one ``>`` from ``^>+From ``.
_NEEDS_QUOTE = re.compile(rb"^(?=>*From )", re.MULTILINE)
_FLAGS = re.compile(r"[A-Za-z]*")
#: Where the unique part of a Maildir name ends (the info, ``:2,FLAGS``, follows).
_UNIQUE_END = re.compile(r"[:;!]")
_UNSAFE = re.compile(r"[/:;!\0]")
#: One delivery counter per process, shared by all writers, as the Maildir spec's ``Q`` part.
_counter = itertools.count(1)


def _hostname() -> str:
    # The Maildir spec: "/" and ":" cannot appear in a name, so they are written as octal escapes.
    return socket.gethostname().replace("/", r"\057").replace(":", r"\072") or "localhost"


class MaildirWriter:
    """Deliver messages into a Maildir (created if missing), with Maildir++ subfolders.

    ``add`` returns the final path. ``folder`` uses ``/`` between levels (``Archive/2020``),
    as :func:`~mailmatch.files.readers.iter_messages` reports it, and is stored the Maildir++
    way (``.Archive.2020``, modified UTF-7, with a ``maildirfolder`` marker as Dovecot expects).
    A ``.`` inside one level cannot be stored in Maildir++ and is refused, as Dovecot does.
    ``fsync=False`` trades the crash safety of each message for speed (tests, scratch exports).
    """

    def __init__(self, root: Path, *, fsync: bool = True) -> None:
        self.root = root
        self.fsync = fsync
        self._ready: set[Path] = set()
        self._present: dict[Path, set[str]] = {}  # unique names in cur/ and new/, per folder
        self._host = _hostname()

    def directory(self, folder: str | None) -> Path:
        """The Maildir that holds ``folder`` (``root`` itself for ``None``), without creating it."""
        return self.root if folder is None else self.root / _maildirpp_name(folder)

    def has(self, unique: str, folder: str | None = None) -> bool:
        """Whether ``folder`` holds a message named ``unique`` (in ``new/`` or ``cur/``, any flags).

        Each folder is listed once; what this writer adds afterwards is remembered.
        """
        return unique in self._names(self.directory(folder))

    def _names(self, directory: Path) -> set[str]:
        if directory not in self._present:
            names: set[str] = set()
            for sub in ("cur", "new"):
                with contextlib.suppress(FileNotFoundError):
                    names.update(
                        _UNIQUE_END.split(n, maxsplit=1)[0] for n in os.listdir(directory / sub)
                    )
            self._present[directory] = names
        return self._present[directory]

    def add(
        self, raw: bytes, flags: str = "", folder: str | None = None, unique: str | None = None
    ) -> Path:
        """Store ``raw`` exactly; ``flags`` are Maildir info letters (``"S"`` seen, ``"FS"``).

        ``unique`` names the message (no ``/``, ``:``, no leading ``.``); without it a fresh
        name is made up, as the Maildir spec describes. A ``unique`` name the folder already
        holds raises :class:`~mailmatch.errors.AlreadyExists`.
        """
        if not _FLAGS.fullmatch(flags):
            raise InvalidInput(f"Maildir flags are letters only, got {flags!r}")
        if unique is not None and (not unique or unique[0] == "." or _UNSAFE.search(unique)):
            raise InvalidInput(f"not a Maildir name: {unique!r}")
        directory = self._directory(folder)
        flags = "".join(sorted(set(flags)))
        while True:
            if unique is None:
                now = time.time()
                seconds, micros = int(now), int((now % 1) * 1_000_000)
                name = f"{seconds}.M{micros}P{os.getpid()}Q{next(_counter)}.{self._host}"
            else:
                name = unique
                if name in self._names(directory):
                    raise AlreadyExists(f"{directory} already holds {name}")
            tmp = directory / "tmp" / name
            final = directory / "cur" / f"{name}:2,{flags}" if flags else directory / "new" / name
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                if unique is not None:  # left over from a crashed export of this very message
                    tmp.unlink(missing_ok=True)
                continue  # left over from a crashed run with the same pid: take the next name
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(raw)
                    f.flush()
                    if self.fsync:
                        os.fsync(f.fileno())
                _link(tmp, final)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
            self._names(directory).add(name)
            return final

    def _directory(self, folder: str | None) -> Path:
        directory = self.directory(folder)
        if directory not in self._ready:
            for sub in ("tmp", "new", "cur"):
                (directory / sub).mkdir(mode=0o700, parents=True, exist_ok=True)
            if folder is not None:
                (directory / "maildirfolder").touch()
            self._ready.add(directory)
        return directory


def _maildirpp_name(folder: str) -> str:
    parts = folder.split("/")
    for part in parts:
        if not part or part in (".", "..") or "." in part or "\0" in part:
            raise InvalidInput(
                f"folder {folder!r} cannot be stored in a Maildir++: levels are separated by '/', "
                "must not be empty and must not contain '.'",
                advice=["rename the folder, e.g. replace '.' by '_'"],
            )
    return "." + ".".join(_utf7_encode(part).decode("ascii") for part in parts)


def _link(tmp: Path, final: Path) -> None:
    """Move ``tmp`` to ``final`` without ever replacing an existing message."""
    try:
        os.link(tmp, final)
    except FileExistsError:
        raise AlreadyExists(f"{final} already exists; Maildir names must be unique") from None
    except OSError:
        # File systems without hard links (some network and FUSE mounts): rename, after checking.
        if final.exists():
            raise AlreadyExists(f"{final} already exists; Maildir names must be unique") from None
        os.rename(tmp, final)
        return
    os.unlink(tmp)


def asctime(date: datetime) -> bytes:
    """``Mon Jan  1 00:00:00 2024`` in English whatever the locale (``strftime`` is not)."""
    if date.tzinfo is not None:
        date = date.astimezone(UTC)
    text = (
        f"{_DAYS[date.weekday()]} {_MONTHS[date.month - 1]} {date.day:2d} "
        f"{date.hour:02d}:{date.minute:02d}:{date.second:02d} {date.year}"
    )
    return text.encode("ascii")


class MboxWriter:
    """Write an mboxrd file, one message per ``add``; use as a context manager.

    The file must not exist yet (``AlreadyExists`` otherwise): an export never overwrites or
    appends to mail the user already has. ``append=True`` adds to an mbox this class wrote
    earlier instead (refusing any other file), and if the writing fails, cuts the file back to
    what it was, so that no half message is left behind. ``date`` (default: now) goes into the
    ``From_`` line, in UTC when it carries a time zone. ``close`` flushes and, unless
    ``fsync=False``, fsyncs.
    """

    def __init__(self, path: Path, *, fsync: bool = True, append: bool = False) -> None:
        self.path = path
        self.fsync = fsync
        self.count = 0
        self._start: int | None = None  # size before appending: where a failure cuts back to
        self._file: BinaryIO
        if not append:
            try:
                self._file = path.open("xb")
            except FileExistsError:
                raise AlreadyExists(
                    f"{path} already exists; mailmatch never overwrites a file",
                    advice=["choose a new file name"],
                ) from None
            return
        self._file = path.open("r+b")
        ending = b""
        try:
            first = self._file.readline(200)
            self._start = self._file.seek(0, os.SEEK_END)
            if self._start:
                self._file.seek(max(0, self._start - 2))
                ending = self._file.read(2)
        except BaseException:
            self._file.close()
            raise
        ours = first.startswith((b"From " + MBOX_SENDER + b" ", b"From " + NOEOL_SENDER + b" "))
        if self._start and (not ours or ending != b"\n\n"):
            self._file.close()
            why = (
                "was not written by mailmatch" if not ours else "does not end as mailmatch ends it"
            )
            raise AlreadyExists(
                f"{path} already exists and {why}; mailmatch adds only to its own exports",
                advice=["choose a new file name"],
            )

    def add(self, raw: bytes, date: datetime | None = None) -> None:
        """Append ``raw``; reading the file back yields exactly these bytes."""
        if self._file.closed:
            raise ValueError(f"{self.path} is closed")
        ends_in_newline = not raw or raw.endswith(b"\n")
        sender = MBOX_SENDER if ends_in_newline else NOEOL_SENDER
        when = asctime(date or datetime.now(UTC))
        self._file.write(b"From " + sender + b" " + when + b"\n")
        self._file.write(_NEEDS_QUOTE.sub(b">", raw))
        self._file.write(b"\n" if ends_in_newline else b"\n\n")
        self.count += 1

    def close(self) -> None:
        if self._file.closed:
            return
        self._file.flush()
        if self.fsync:
            os.fsync(self._file.fileno())
        self._file.close()

    def __enter__(self) -> MboxWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc is not None and self._start is not None and not self._file.closed:
            self._file.flush()
            self._file.truncate(self._start)  # what was there before, and nothing half-written
        self.close()
