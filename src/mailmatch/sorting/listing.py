"""Messages by category: ``messages list`` and ``messages search --category``.

The rows carry the contract's keys: ``id``, ``message_id``, ``subject``, ``from``, ``date``,
``folders``, ``category`` (a name, ``review`` or ``uncategorized``) and ``category_source``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, func, select

from mailmatch.errors import NotFound
from mailmatch.sorting.facts import folders_of
from mailmatch.store.db import Database
from mailmatch.store.models import Location, Message
from mailmatch.store.sorting import MessageCategory, SortCategory
from mailmatch.timeutil import aware

SPECIAL = ("review", "uncategorized")


class MessageList:
    def __init__(self, db: Database, workspace_id: int) -> None:
        self.db = db
        self.workspace_id = workspace_id

    def _category_condition(self, conn: Any, category: str) -> ColumnElement[bool]:
        name = " ".join(category.split()).lower()
        if name == "review":
            return Message.id.in_(
                select(MessageCategory.message_pk).where(MessageCategory.state == "review")
            )
        if name == "uncategorized":
            return Message.id.not_in(
                select(MessageCategory.message_pk).where(MessageCategory.state != "uncategorized")
            )
        found = conn.execute(
            select(SortCategory.id).where(
                SortCategory.workspace_id == self.workspace_id, SortCategory.name == name
            )
        ).scalar()
        if found is None:
            raise NotFound(
                f"no category {category!r}", advice=["list them: mailmatch sort categories list"]
            )
        return Message.id.in_(
            select(MessageCategory.message_pk).where(MessageCategory.category_id == found)
        )

    def list(
        self,
        *,
        category: str | None = None,
        folder: str | None = None,
        ids: Sequence[int] | None = None,
        limit: int | None = 50,
    ) -> list[dict[str, Any]]:
        """Newest first (or in the order of ``ids``, e.g. search hits); ``limit=None``: all."""
        with self.db.read() as conn:
            where: list[ColumnElement[bool]] = [Message.workspace_id == self.workspace_id]
            if category:
                where.append(self._category_condition(conn, category))
            if folder:
                where.append(
                    Message.id.in_(
                        select(Location.message_pk).where(
                            func.lower(Location.folder) == folder.lower()
                        )
                    )
                )
            if ids is not None:
                where.append(Message.id.in_(list(ids)))
            query = (
                select(
                    Message.id,
                    Message.message_id,
                    Message.subject,
                    Message.from_email,
                    Message.date,
                    SortCategory.name,
                    MessageCategory.state,
                    MessageCategory.source,
                )
                .outerjoin(MessageCategory, MessageCategory.message_pk == Message.id)
                .outerjoin(SortCategory, SortCategory.id == MessageCategory.category_id)
                .where(*where)
                .order_by(Message.date.desc().nulls_last(), Message.id.desc())
            )
            if limit is not None and ids is None:
                query = query.limit(limit)
            rows = conn.execute(query).all()
            folders = folders_of(conn, [r[0] for r in rows])
        out: list[dict[str, Any]] = []
        for pk, mid, subject, sender, date, name, state, source in rows:
            moment = aware(date)
            out.append(
                {
                    "id": pk,
                    "message_id": mid,
                    "subject": subject,
                    "from": sender,
                    "date": moment.isoformat() if moment else None,
                    "folders": sorted(folders.get(pk, [])),
                    "category": name if state == "sorted" and name else (state or "uncategorized"),
                    "category_source": source,
                }
            )
        if ids is not None:
            order = {pk: i for i, pk in enumerate(ids)}
            out.sort(key=lambda r: order[r["id"]])
            if limit is not None:
                out = out[:limit]
        return out
