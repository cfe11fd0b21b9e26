"""Reading stored messages for the CLI and the API: search, detail, raw bytes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from mailmatch.errors import NotFound
from mailmatch.store.messages import MessageStore
from mailmatch.store.models import Account, AttachmentRow, Location, Message, MessageAddress
from mailmatch.timeutil import aware


def _summary(m: Message) -> dict[str, Any]:
    date = aware(m.date)
    return {
        "id": m.id,
        "date": date.isoformat() if date else None,
        "from": m.from_email,
        "from_name": m.from_name,
        "subject": m.subject,
        "thread_id": m.thread_id,
        "parse_level": m.parse_level,
    }


class MessageService:
    """Reads the messages of the store's workspace; a message of another workspace, asked for
    by id, is not found (the same error as an id that was never used)."""

    def __init__(self, store: MessageStore) -> None:
        self.store = store
        self.db = store.db
        self.workspace_id = store.workspace_id

    def search(self, query: str, limit: int = 50) -> list[dict[str, Any]]:
        ids = self.store.search(query, limit)
        if not ids:
            return []
        with self.db.session() as session:
            rows = {
                m.id: m
                for m in session.scalars(
                    select(Message).where(
                        Message.workspace_id == self.workspace_id, Message.id.in_(ids)
                    )
                )
            }
            return [_summary(rows[i]) for i in ids if i in rows]

    def show(self, pk: int) -> dict[str, Any]:
        with self.db.session() as session:
            m = session.get(Message, pk)
            if m is None or m.workspace_id != self.workspace_id:
                raise NotFound(f"no message {pk}")
            data = _summary(m)
            addresses: dict[str, list[dict[str, str]]] = {}
            for a in session.scalars(
                select(MessageAddress)
                .where(MessageAddress.message_pk == pk)
                .order_by(MessageAddress.id)
            ):
                addresses.setdefault(a.role, []).append({"name": a.name, "email": a.email})
            locations = session.execute(
                select(Account.name, Location.folder, Location.uid)
                .join(Account, Account.id == Location.account_id)
                .where(Location.message_pk == pk)
            ).all()
            thread = session.scalars(
                select(Message)
                .where(Message.workspace_id == self.workspace_id, Message.thread_id == m.thread_id)
                .order_by(Message.date)
            ).all()
            data |= {
                "message_id": m.message_id,
                "size": m.size,
                "sha256": m.sha256,
                "addresses": addresses,
                "in_reply_to": m.in_reply_to,
                "references": m.references,
                "defects": m.defects,
                "body_text": m.body_text,
                "attachments": [
                    {
                        "id": a.id,
                        "filename": a.filename,
                        "content_type": a.content_type,
                        "size": a.size,
                        "stored": a.stored,
                    }
                    for a in session.scalars(
                        select(AttachmentRow)
                        .where(AttachmentRow.message_pk == pk)
                        .order_by(AttachmentRow.id)
                    )
                ],
                "locations": [
                    {"account": acc, "folder": folder, "uid": uid} for acc, folder, uid in locations
                ],
                "thread": [_summary(t) for t in thread],
            }
            return data

    def raw(self, pk: int) -> bytes:
        raw = self.store.raw(pk)
        if raw is None:
            raise NotFound(f"no message {pk}")
        return raw
