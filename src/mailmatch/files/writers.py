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
fails rather than replace), an mbox file is created exclusively.
"""

from __future__ import annotations

import itertools
import os
import re
import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from imapclient.imap_utf7 import encode as _utf7_encode

from mailmatch.errors import AlreadyExists, InvalidInput
from mailmatch.files.readers import NOEOL_SENDER

__all__ = ["MBOX_SENDER", "MaildirWriter", "MboxWriter"]

#: Envelope sender of the ``From_`` lines this module writes.
MBOX_SENDER = b"mailmatch@localhost"

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
#: Start of every line that mboxrd quotes: the reader strips one ``>`` from ``^>+From ``.
_NEEDS_QUOTE = re.compile(rb"^(?=>*From )", re.MULTILINE)
_FLAGS = re.compile(r"[A-Za-z]*")
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
        self._host = _hostname()

    def add(self, raw: bytes, flags: str = "", folder: str | None = None) -> Path:
        """Store ``raw`` exactly; ``flags`` are Maildir info letters (``"S"`` seen, ``"FS"``)."""
        if not _FLAGS.fullmatch(flags):
            raise InvalidInput(f"Maildir flags are letters only, got {flags!r}")
        directory = self._directory(folder)
        flags = "".join(sorted(set(flags)))
        while True:
            now = time.time()
            seconds, micros = int(now), int((now % 1) * 1_000_000)
            unique = f"{seconds}.M{micros}P{os.getpid()}Q{next(_counter)}.{self._host}"
            tmp = directory / "tmp" / unique
            final = (
                directory / "cur" / f"{unique}:2,{flags}" if flags else directory / "new" / unique
            )
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
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
            return final

    def _directory(self, folder: str | None) -> Path:
        directory = self.root if folder is None else self.root / _maildirpp_name(folder)
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
    appends to mail the user already has. ``date`` (default: now) goes into the ``From_`` line,
    in UTC when it carries a time zone. ``close`` flushes and, unless ``fsync=False``, fsyncs.
    """

    def __init__(self, path: Path, *, fsync: bool = True) -> None:
        self.path = path
        self.fsync = fsync
        try:
            self._file = path.open("xb")
        except FileExistsError:
            raise AlreadyExists(
                f"{path} already exists; mailmatch never overwrites a file",
                advice=["choose a new file name"],
            ) from None
        self.count = 0

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
        self.close()
