"""Plain data the file readers hand out: a message found in a file, and a part that could not be
read. Kept apart from the readers so that the mbox splitter and the directory walkers share them
without importing each other."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["FileMessage", "FileProblem", "OnProblem"]


@dataclass(frozen=True)
class FileMessage:
    """One message as found in a file, and where it was found."""

    raw: bytes  # the message exactly, without the mbox From_ line, mboxrd quoting undone
    source: (
        str  # where it came from, e.g. "inbox.mbox#17" or "Maildir/cur/1700000000.M1P2.host:2,S"
    )
    flags: str = ""  # Maildir info flags (e.g. "S" seen) when known
    folder: str | None = None  # Maildir++ subfolder / Apple Mail mailbox, levels joined by "/"
    #: Why the message looks cut short (the last message of an mbox that ends too early), or None.
    truncated: str | None = None


@dataclass(frozen=True)
class FileProblem:
    """A file, folder or message that was skipped (unreadable) or stored with a flag (truncated),
    named as :attr:`FileMessage.source` names messages, with the reason in words."""

    source: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"source": self.source, "reason": self.reason}


#: Called with each part of the input that cannot be read; the readers then go on with the rest.
OnProblem = Callable[[FileProblem], None]
