"""What is sent and what came of it: plain data between a caller and any mail backend.

A message is an ``email.message.EmailMessage`` plus its envelope, given separately because the
envelope decides who receives it: a backend sends to exactly ``recipients`` (never to more,
whatever the headers say), and the bytes it sends carry no ``Bcc`` header, so a blind copy stays
blind. ``Message-ID`` and ``Date`` are set on the caller's message when missing, so the caller
can store the id it will see again in replies.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid, parseaddr

from mailmatch.errors import InvalidInput

_ADDRESS = re.compile(r"^[^\s<>@]+@[^\s<>@]+$")
BLIND_HEADERS = ("Bcc", "Resent-Bcc")


@dataclass
class Outgoing:
    """One message and its envelope; ``mail_from`` empty: the sending account's address."""

    message: EmailMessage
    recipients: tuple[str, ...]
    mail_from: str = ""

    @classmethod
    def from_headers(cls, message: EmailMessage, mail_from: str = "") -> Outgoing:
        """The envelope read from ``To``, ``Cc`` and ``Bcc``, as a mail client would."""
        fields = [str(v) for name in ("To", "Cc", "Bcc") for v in message.get_all(name, [])]
        return cls(message, tuple(addr for _name, addr in getaddresses(fields) if addr), mail_from)


@dataclass(frozen=True)
class Refusal:
    """A recipient the server refused, with its own reply code and words."""

    recipient: str
    code: int
    text: str

    @property
    def retryable(self) -> bool:
        """4xx is temporary (greylisting, a full mailbox); 5xx is final."""
        return 400 <= self.code < 500

    def to_json(self) -> dict[str, object]:
        return {"recipient": self.recipient, "code": self.code, "text": self.text}


@dataclass(frozen=True)
class SendResult:
    """What the server accepted; ``queue_id`` when its final reply named one."""

    message_id: str
    mail_from: str
    accepted: tuple[str, ...]
    refused: tuple[Refusal, ...] = ()
    queue_id: str | None = None
    reply: str = ""  # the server's reply to the message data, verbatim

    def to_json(self) -> dict[str, object]:
        return {
            "message_id": self.message_id,
            "mail_from": self.mail_from,
            "accepted": list(self.accepted),
            "refused": [r.to_json() for r in self.refused],
            "queue_id": self.queue_id,
            "reply": self.reply,
        }


@dataclass(frozen=True)
class Envelope:
    """A message ready for the wire: checked addresses and the exact bytes to send."""

    mail_from: str
    recipients: tuple[str, ...]
    message_id: str
    data: bytes = field(repr=False)


def check_address(address: str) -> str:
    """One bare address, nothing that could smuggle a second command or recipient in."""
    if not _ADDRESS.match(address) or parseaddr(address)[1] != address:
        raise InvalidInput(f"not a single email address: {address!r}")
    return address


def prepare(outgoing: Outgoing, default_from: str) -> Envelope:
    """Check the envelope, set ``Message-ID`` and ``Date`` when missing, render the bytes."""
    mail_from = check_address(outgoing.mail_from or default_from)
    recipients = tuple(dict.fromkeys(check_address(r) for r in outgoing.recipients))
    if not recipients:
        raise InvalidInput("a message needs at least one recipient")
    message = outgoing.message
    if message["Message-ID"] is None:
        message["Message-ID"] = make_msgid(domain=mail_from.rpartition("@")[2])
    if message["Date"] is None:
        message["Date"] = format_datetime(datetime.now(UTC))
    return Envelope(mail_from, recipients, str(message["Message-ID"]), wire_bytes(message))


def wire_bytes(message: EmailMessage) -> bytes:
    """The message as sent: CRLF line ends, blind-copy headers removed (from a copy)."""
    sent = copy.deepcopy(message)
    for name in BLIND_HEADERS:
        del sent[name]
    return sent.as_bytes(policy=sent.policy.clone(linesep="\r\n"))
