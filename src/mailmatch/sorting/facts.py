"""What sorting knows of a message: plain data read from the store in a few queries.

Rules, signals and the classifier all work on :class:`MessageFacts`, never on the database, so
each is tested with facts made by hand. Mail stored before sorting existed has no kept headers
(``messages.headers`` is NULL); they are read once from its raw bytes and saved.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, func, select, update

from mailmatch.ingest.parse import parse_message
from mailmatch.store.blobs import unpack
from mailmatch.store.models import Blob, Location, Message, MessageAddress
from mailmatch.store.records import MessageLink

#: Enough text for rules and features; longer bodies add little but time.
BODY_CHARS = 4000
CHUNK = 500


@dataclass
class MessageFacts:
    pk: int
    subject: str = ""
    from_email: str = ""
    from_name: str = ""
    recipients: list[str] = field(default_factory=list)  # to, cc, bcc: which of our mailboxes
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    attachment_count: int = 0
    folders: list[str] = field(default_factory=list)
    matched: set[str] = field(default_factory=set)  # record types linked: contact, company, deal
    message_id: str = ""

    @property
    def from_domain(self) -> str:
        return self.from_email.rpartition("@")[2]

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def _chunks(pks: Sequence[int]) -> Iterable[list[int]]:
    for start in range(0, len(pks), CHUNK):
        yield list(pks[start : start + CHUNK])


def load_facts(conn: Connection, workspace_id: int, pks: Sequence[int]) -> list[MessageFacts]:
    """The facts of these messages of ``workspace_id``, in the order given (unknown ids, or
    another workspace's, are left out)."""
    found: dict[int, MessageFacts] = {}
    missing_headers: list[int] = []
    for chunk in _chunks(list(pks)):
        rows = conn.execute(
            select(
                Message.id,
                Message.subject,
                Message.from_email,
                Message.from_name,
                func.substr(Message.body_text, 1, BODY_CHARS),
                Message.headers,
                Message.attachment_count,
                Message.message_id,
            ).where(Message.id.in_(chunk), Message.workspace_id == workspace_id)
        )
        for pk, subject, from_email, from_name, body, headers, attachments, mid in rows:
            found[pk] = MessageFacts(
                pk=pk,
                subject=subject or "",
                from_email=from_email or "",
                from_name=from_name or "",
                body=(body or "")[:BODY_CHARS],
                headers=dict(headers or {}),
                attachment_count=attachments or 0,
                message_id=mid or "",
            )
            if headers is None:
                missing_headers.append(pk)
        ids = [pk for pk in chunk if pk in found]
        if not ids:
            continue
        for pk, email in conn.execute(
            select(MessageAddress.message_pk, MessageAddress.email).where(
                MessageAddress.message_pk.in_(ids), MessageAddress.role.in_(("to", "cc", "bcc"))
            )
        ):
            found[pk].recipients.append(email)
        for pk, folders in folders_of(conn, ids).items():
            found[pk].folders.extend(folders)
        for pk, record_type in conn.execute(
            select(MessageLink.message_pk, MessageLink.record_type)
            .where(MessageLink.message_pk.in_(ids))
            .distinct()
        ):
            found[pk].matched.add(record_type)
    if missing_headers:
        _backfill_headers(conn, [found[pk] for pk in missing_headers])
    return [found[pk] for pk in pks if pk in found]


def folders_of(conn: Connection, pks: Sequence[int]) -> dict[int, list[str]]:
    """The server folders holding each of these messages (any account)."""
    folders: dict[int, list[str]] = defaultdict(list)
    for chunk in _chunks(list(pks)):
        for pk, folder in conn.execute(
            select(Location.message_pk, Location.folder)
            .where(Location.message_pk.in_(chunk))
            .distinct()
        ):
            folders[pk].append(folder)
    return folders


def _backfill_headers(conn: Connection, facts: list[MessageFacts]) -> None:
    """Read the kept headers of mail stored before 0011 from its raw bytes, once."""
    by_pk = {f.pk: f for f in facts}
    kept: dict[int, dict[str, str]] = defaultdict(dict)
    for chunk in _chunks(list(by_pk)):
        rows = conn.execute(
            select(Message.id, Blob.codec, Blob.data)
            .join(Blob, Blob.sha256 == Message.sha256)
            .where(Message.id.in_(chunk))
        )
        for pk, codec, data in rows:
            kept[pk] = parse_message(unpack(codec, data)).headers
    for pk, headers in kept.items():
        by_pk[pk].headers = headers
        conn.execute(update(Message).where(Message.id == pk).values(headers=headers))
