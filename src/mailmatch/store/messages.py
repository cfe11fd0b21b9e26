"""The message store: add a batch of parsed messages in one transaction, read them back.

A batch is the unit of durability. Its blobs, messages, addresses, attachments, thread links,
search entries, folder locations and the caller's checkpoint (``on_commit``) are written in one
transaction, so a crash or a dropped connection loses at most the batch in flight, and the next
run starts exactly after the last one that committed.

Deduplication is by SHA-256 of the raw bytes within the store's workspace: a message seen
again (in another folder, after a UIDVALIDITY reset, from a second run racing this one) only
gains a location. Blobs are shared by all workspaces, so the same bytes in two workspaces are
two message rows over one blob.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, func, select

from mailmatch.ingest.forwarded import forwarded_senders
from mailmatch.ingest.models import Address, ParsedMessage
from mailmatch.store.blobs import pack, unpack
from mailmatch.store.bulk import bulk_insert, insert_returning_ids
from mailmatch.store.db import Database, lock_store
from mailmatch.store.dialects import dialect_of
from mailmatch.store.models import DEFAULT_WORKSPACE_ID
from mailmatch.store.search import SearchDoc
from mailmatch.store.tables import ADDRESSES, ATTACHMENTS, BLOBS, LOCATIONS, MESSAGES
from mailmatch.store.threads import assign_threads

ROLES = ("from_", "to", "cc", "bcc", "reply_to", "sender")


@dataclass(frozen=True)
class LocationKey:
    account_id: int
    folder: str
    uidvalidity: int
    uid: int


@dataclass
class Incoming:
    raw: bytes
    parsed: ParsedMessage
    location: LocationKey | None = None
    packed: tuple[str, bytes] | None = None  # (codec, data) when compressed already


@dataclass
class BatchResult:
    new: int = 0
    duplicates: int = 0
    defective: int = 0
    message_pks: list[int] = field(default_factory=list)  # new messages, for matching


def _addresses(p: ParsedMessage) -> list[tuple[str, Address]]:
    """Header addresses by role, plus the original senders of forwarded mail (``fwd_from``)."""
    pairs = [(role, addr) for role in ROLES for addr in getattr(p, role)]
    if p.body_text:
        pairs += [("fwd_from", addr) for addr in forwarded_senders(p.body_text)]
    return pairs


class MessageStore:
    """The messages of one workspace: every read and write is scoped by ``workspace_id``."""

    def __init__(
        self,
        db: Database,
        *,
        attachment_cap: int = 25 * 1024 * 1024,
        workspace_id: int = DEFAULT_WORKSPACE_ID,
    ) -> None:
        self.db = db
        self.attachment_cap = attachment_cap
        self.workspace_id = workspace_id
        self.search_index = dialect_of(db.engine).search

    # -- writing ---------------------------------------------------------------------------

    def add_batch(
        self,
        items: list[Incoming],
        on_commit: Callable[[Connection], None] | None = None,
        on_new: Callable[[Connection, list[int]], None] | None = None,
    ) -> BatchResult:
        """Store ``items`` in one transaction; ``on_commit`` (the caller's checkpoint) and
        ``on_new`` (given the ids of the new messages, when there are any: the after-store
        pipeline's backlog) write inside it."""
        result = BatchResult()
        with self.db.engine.begin() as conn:
            lock_store(conn)
            shas = list({item.parsed.sha256 for item in items})
            known = self._existing(conn, shas)
            fresh: dict[str, Incoming] = {}
            for item in items:
                sha = item.parsed.sha256
                if sha in known or sha in fresh:
                    result.duplicates += 1
                else:
                    fresh[sha] = item
            if fresh:
                pks = self._insert_new(conn, list(fresh.values()))
                known.update(pks)
                result.new = len(pks)
                result.message_pks = list(pks.values())
                result.defective = sum(1 for i in fresh.values() if i.parsed.parse_level != "full")
            locations = [
                {
                    "account_id": i.location.account_id,
                    "folder": i.location.folder,
                    "uidvalidity": i.location.uidvalidity,
                    "uid": i.location.uid,
                    "message_pk": known[i.parsed.sha256],
                }
                for i in items
                if i.location is not None
            ]
            if locations:
                bulk_insert(conn, LOCATIONS, locations, ignore_conflicts=True)
            if on_commit is not None:
                on_commit(conn)
            if on_new is not None and result.message_pks:
                on_new(conn, result.message_pks)
        return result

    def _existing(self, conn: Connection, shas: list[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for start in range(0, len(shas), 500):
            chunk = shas[start : start + 500]
            rows = conn.execute(
                select(MESSAGES.c.sha256, MESSAGES.c.id).where(
                    MESSAGES.c.workspace_id == self.workspace_id, MESSAGES.c.sha256.in_(chunk)
                )
            )
            found.update({sha: pk for sha, pk in rows})
        return found

    def _insert_new(self, conn: Connection, items: list[Incoming]) -> dict[str, int]:
        blobs = []
        for item in items:
            codec, data = item.packed or pack(item.raw)
            blobs.append(
                {"sha256": item.parsed.sha256, "size": len(item.raw), "codec": codec, "data": data}
            )
        for item in items:
            for att in item.parsed.attachments:
                if att.data is not None and att.size <= self.attachment_cap:
                    codec, data = pack(att.data)
                    blobs.append(
                        {"sha256": att.sha256, "size": att.size, "codec": codec, "data": data}
                    )
        bulk_insert(conn, BLOBS, blobs, ignore_conflicts=True)

        thread_of = assign_threads(conn, [item.parsed for item in items], self.workspace_id)
        rows = []
        for item, thread_id in zip(items, thread_of, strict=True):
            p = item.parsed
            sender = p.from_[0] if p.from_ else (p.sender[0] if p.sender else None)
            rows.append(
                {
                    "workspace_id": self.workspace_id,
                    "sha256": p.sha256,
                    "size": p.size,
                    "message_id": p.message_id,
                    "subject": p.subject,
                    "date": p.date,
                    "from_email": sender.email if sender else None,
                    "from_name": sender.name if sender else None,
                    "in_reply_to": p.in_reply_to,
                    "references": p.references,
                    "thread_id": thread_id,
                    "body_text": p.body_text,
                    "parse_level": p.parse_level,
                    "defects": p.defects,
                    "attachment_count": len(p.attachments),
                    "headers": p.headers,
                }
            )
        ids = insert_returning_ids(conn, MESSAGES, rows)
        pks = {str(row["sha256"]): pk for row, pk in zip(rows, ids, strict=True)}

        addresses, attachments, docs = [], [], []
        for item in items:
            p, pk = item.parsed, pks[item.parsed.sha256]
            words = []
            for role, addr in _addresses(p):
                addresses.append(
                    {
                        "message_pk": pk,
                        "role": role.rstrip("_"),
                        "email": addr.email,
                        "name": addr.name,
                        "domain": addr.email.rpartition("@")[2] or None,
                    }
                )
                words.append(f"{addr.name} {addr.email}")
            for att in p.attachments:
                attachments.append(
                    {
                        "message_pk": pk,
                        "sha256": att.sha256,
                        "filename": att.filename,
                        "content_type": att.content_type,
                        "size": att.size,
                        "stored": att.data is not None and att.size <= self.attachment_cap,
                        "inline": att.inline,
                    }
                )
            names = " ".join(a.filename for a in p.attachments if a.filename)
            docs.append(SearchDoc(pk, p.subject, " ".join(words), f"{p.body_text} {names}"))
        bulk_insert(conn, ADDRESSES, addresses)
        bulk_insert(conn, ATTACHMENTS, attachments)
        self.search_index.add(conn, docs)
        return pks

    # -- reading ---------------------------------------------------------------------------

    def raw(self, message_pk: int) -> bytes | None:
        with self.db.read() as conn:
            row = conn.execute(
                select(BLOBS.c.codec, BLOBS.c.data)
                .join(MESSAGES, MESSAGES.c.sha256 == BLOBS.c.sha256)
                .where(MESSAGES.c.id == message_pk, MESSAGES.c.workspace_id == self.workspace_id)
            ).first()
        return unpack(row.codec, row.data) if row else None

    def iter_raw(self, batch: int = 500) -> Iterator[tuple[int, Any, bytes]]:
        """Every message of the workspace as (id, date, raw bytes), oldest id first, streamed."""
        last = 0
        while True:
            with self.db.read() as conn:
                rows = conn.execute(
                    select(MESSAGES.c.id, MESSAGES.c.date, BLOBS.c.codec, BLOBS.c.data)
                    .join(BLOBS, MESSAGES.c.sha256 == BLOBS.c.sha256)
                    .where(MESSAGES.c.workspace_id == self.workspace_id, MESSAGES.c.id > last)
                    .order_by(MESSAGES.c.id)
                    .limit(batch)
                ).all()
            if not rows:
                return
            for row in rows:
                yield row.id, row.date, unpack(row.codec, row.data)
            last = rows[-1].id

    def count(self) -> int:
        with self.db.read() as conn:
            return int(
                conn.execute(
                    select(func.count())
                    .select_from(MESSAGES)
                    .where(MESSAGES.c.workspace_id == self.workspace_id)
                ).scalar_one()
            )

    def search(self, query: str, limit: int = 50) -> list[int]:
        with self.db.read() as conn:
            return self.search_index.search(conn, query, self.workspace_id, limit)
