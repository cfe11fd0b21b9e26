"""One attachment of a stored message, as bytes to download, and a safe name for it.

An attachment up to ``MAILMATCH_ATTACHMENT_MAX_MB`` is kept as its own blob (addressed by the
SHA-256 of its decoded bytes); a larger one stays only inside the raw message. The raw bytes
are always kept, so that one is found again by parsing the raw message with no size cap and
taking the part with the same SHA-256: the parse is deterministic, and the hash proves the
bytes are the ones the import saw. An attachment of another workspace's message is not found,
exactly like an id that was never used.
"""

from __future__ import annotations

import mimetypes
import re
import sys
import unicodedata
from dataclasses import dataclass

from sqlalchemy import select

from mailmatch.errors import NotFound
from mailmatch.ingest.parse import parse_message
from mailmatch.store.blobs import sha256_hex, unpack
from mailmatch.store.messages import MessageStore
from mailmatch.store.models import AttachmentRow, Blob, Message

_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")
_UNSAFE_ASCII = re.compile(r"[^A-Za-z0-9 ._()+,=@-]")
MAX_NAME = 150


@dataclass(frozen=True)
class AttachmentFile:
    id: int
    message_pk: int
    filename: str  # safe to offer: no path, no control characters, never empty
    content_type: str  # a well-formed media type; application/octet-stream when it was not
    data: bytes = b""


def media_type(value: str | None) -> str:
    """The type the message declared, when it is a well-formed ``type/subtype``."""
    cleaned = (value or "").strip().lower()
    return cleaned if _MEDIA_TYPE.match(cleaned) else "application/octet-stream"


def safe_filename(name: str | None, content_type: str, attachment_id: int) -> str:
    """``name`` without directories, control or format characters and leading dots, at most
    ``MAX_NAME`` characters (keeping the extension); a made-up name when nothing is left."""
    text = unicodedata.normalize("NFC", name or "")
    text = re.split(r"[/\\]", text)[-1]
    text = "".join(" " if unicodedata.category(c)[0] in "CZ" else c for c in text)
    text = " ".join(text.split()).lstrip(". ").rstrip(". ")
    if len(text) > MAX_NAME:
        stem, dot, ext = text.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            text = stem[: MAX_NAME - len(ext) - 1].rstrip() + "." + ext
        else:
            text = text[:MAX_NAME].rstrip()
    if text:
        return text
    extension = mimetypes.guess_extension(content_type) or ".bin"
    return f"attachment-{attachment_id}{extension}"


def ascii_filename(name: str) -> str:
    """The RFC 6266 ``filename`` fallback for clients that ignore ``filename*``."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    folded = _UNSAFE_ASCII.sub("_", folded).strip(" .") or "attachment"
    return folded


class AttachmentService:
    """The attachments of the store's workspace."""

    def __init__(self, store: MessageStore) -> None:
        self.store = store

    def get(self, message_pk: int, attachment_id: int) -> AttachmentFile:
        with self.store.db.read() as conn:
            row = conn.execute(
                select(
                    AttachmentRow.sha256,
                    AttachmentRow.filename,
                    AttachmentRow.content_type,
                    AttachmentRow.stored,
                )
                .join(Message, Message.id == AttachmentRow.message_pk)
                .where(
                    AttachmentRow.id == attachment_id,
                    AttachmentRow.message_pk == message_pk,
                    Message.workspace_id == self.store.workspace_id,
                )
            ).first()
            blob = None
            if row is not None and row.stored:
                blob = conn.execute(
                    select(Blob.codec, Blob.data).where(Blob.sha256 == row.sha256)
                ).first()
        if row is None:
            raise NotFound(f"no attachment {attachment_id} in message {message_pk}")
        data = unpack(blob.codec, blob.data) if blob is not None else None
        if data is None or sha256_hex(data) != row.sha256:
            data = self._from_raw(message_pk, row.sha256)
        kind = media_type(row.content_type)
        return AttachmentFile(
            id=attachment_id,
            message_pk=message_pk,
            filename=safe_filename(row.filename, kind, attachment_id),
            content_type=kind,
            data=data,
        )

    def _from_raw(self, message_pk: int, sha256: str) -> bytes:
        """The attachment re-extracted from the raw message (it was over the size cap)."""
        raw = self.store.raw(message_pk)
        if raw is not None:
            for part in parse_message(raw, max_attachment_bytes=sys.maxsize).attachments:
                if part.sha256 == sha256 and part.data is not None:
                    return part.data
        raise NotFound(
            f"attachment of message {message_pk} is no longer in its raw message",
            advice=["download the whole message (.eml) instead"],
        )
