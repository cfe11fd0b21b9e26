"""Plain data produced by parsing one message.

These are what the store, threading and matching consume. They hold only decoded Python
values (no ``email.message.Message``), so they can be pickled, compared in tests and passed
between threads or processes without dragging the parser along.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

#: How much of a message was understood: ``"full"`` (headers and MIME body), ``"headers"``
#: (the body walk failed; headers are still right) or ``"raw"`` (no header could be read: only
#: ``sha256`` and ``size`` are meaningful). The raw bytes are kept in every case.
ParseLevel = Literal["full", "headers", "raw"]


@dataclass(frozen=True)
class Address:
    """One mailbox from an address header.

    ``email`` is lower-cased as a whole: matching compares addresses case-insensitively, and a
    single canonical form keeps that a plain string comparison. ``name`` is the RFC 2047-decoded
    display name, stripped; ``""`` when there is none.
    """

    name: str
    email: str


@dataclass(frozen=True)
class Attachment:
    """A non-body MIME part (a file, an inline image, a forwarded message).

    ``size`` and ``sha256`` describe the *decoded* payload, so the same file attached to two
    messages (in base64 with different line lengths, say) gets the same address. ``data`` is
    ``None`` when the payload is larger than the parser's cap: the raw message still holds it,
    and the store can re-extract it on demand.
    """

    filename: str | None
    content_type: str
    size: int
    sha256: str
    data: bytes | None = field(default=None, repr=False)
    inline: bool = False
    content_id: str | None = None


@dataclass
class ParsedMessage:
    """Everything derived from one raw message; ``sha256`` of the raw bytes is its identity.

    Message ids (``message_id``, ``in_reply_to``, ``references``) are normalised without the
    angle brackets and whitespace. ``date`` is timezone-aware UTC. ``defects`` lists short
    machine-readable strings (``"bad_date"``, ``"unknown_charset:x-foo"``,
    ``"parse_error:IndexError"``, the names of ``email.errors`` defect classes, ...), each once.
    """

    sha256: str
    size: int
    message_id: str | None = None
    subject: str = ""
    date: datetime | None = None
    sender: list[Address] = field(default_factory=list)
    from_: list[Address] = field(default_factory=list)
    to: list[Address] = field(default_factory=list)
    cc: list[Address] = field(default_factory=list)
    bcc: list[Address] = field(default_factory=list)
    reply_to: list[Address] = field(default_factory=list)
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    body_text: str = ""
    attachments: list[Attachment] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    parse_level: ParseLevel = "raw"
    #: Other header fields (``list-id``, ``auto-submitted``, ``x-spam-flag``, ...), lower-cased
    #: name -> first raw value unfolded, without traces and signatures: what sorting reads.
    headers: dict[str, str] = field(default_factory=dict)
