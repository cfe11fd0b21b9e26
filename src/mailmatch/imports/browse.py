"""Browsing a workspace's stored messages: filters, full-text search, newest first, in pages.

The search index (``store/search.py``) ranks by relevance; a mailbox is read newest first, so
here the index is used only as a filter (``id IN (matches)``) and the order comes from the
``(workspace_id, date)`` index. Pages are keyset-paged on ``(date, id)``: the thousandth page
costs what the first does, where an OFFSET would re-read every row before it.

Messages without a Date header sort after every dated one (they are the oldest we can tell).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from mailmatch.contacts.queries import company_names_by_id
from mailmatch.errors import InvalidInput
from mailmatch.store.db import Database
from mailmatch.store.dialects import dialect_of
from mailmatch.store.models import Account, Location, Message
from mailmatch.store.records import Contact, ContactEmail, Deal, MatchState, MessageLink
from mailmatch.timeutil import aware

Status = Literal["matched", "unmatched", "ignored"]
STATUSES: tuple[Status, ...] = ("matched", "unmatched", "ignored")
MAX_LIMIT = 200
PREVIEW = 160
RECORD_PAGES = {"contact": "contacts", "company": "companies", "deal": "deals"}


@dataclass(frozen=True)
class MessageFilter:
    """What the user narrowed the list to; every field is optional."""

    q: str | None = None
    status: Status | None = None
    sender: str | None = None  # an address, or a bare domain for everyone there
    since: date | None = None
    until: date | None = None  # inclusive: the whole day
    attachments: bool | None = None
    account_id: int | None = None

    @property
    def active(self) -> bool:
        return any(v not in (None, "") for v in self.__dict__.values())


@dataclass(frozen=True)
class LinkView:
    """A message's link to a record, with the record's display name and the reason."""

    record_type: str
    record_id: int
    name: str
    reason: str

    @property
    def url(self) -> str:
        return f"/{RECORD_PAGES.get(self.record_type, 'deals')}/{self.record_id}"


@dataclass
class MessageRow:
    id: int
    date: datetime | None
    from_email: str | None
    from_name: str | None
    subject: str
    preview: str
    attachments: int
    status: str | None
    links: list[LinkView] = field(default_factory=list)


@dataclass
class MessagePage:
    rows: list[MessageRow]
    next_cursor: str | None


def encode_cursor(moment: datetime | None, pk: int) -> str:
    """Where the next page starts: the last row's date (microseconds, UTC) and id."""
    stamp = "n" if moment is None else str(_micros(moment))
    return f"{stamp}.{pk}"


def decode_cursor(cursor: str) -> tuple[datetime | None, int]:
    stamp, _, pk = cursor.partition(".")
    try:
        ident = int(pk)
        moment = (
            None
            if stamp == "n"
            else datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(stamp))
        )
    except (ValueError, OverflowError):
        raise InvalidInput(
            f"not a page cursor: {cursor[:40]!r}", advice=["use next_cursor from the last page"]
        ) from None
    if not 0 < ident < 2**62:
        raise InvalidInput("not a page cursor", advice=["use next_cursor from the last page"])
    return moment, ident


def _micros(moment: datetime) -> int:
    value = aware(moment)
    assert value is not None
    return (value - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


class MessageBrowser:
    """Read-only views of one workspace's messages for the web pages and the API."""

    def __init__(self, db: Database, *, workspace_id: int) -> None:
        self.db = db
        self.workspace_id = workspace_id
        self.search = dialect_of(db.engine).search

    # -- the list -----------------------------------------------------------------------------

    def _search(self, q: str) -> ColumnElement[bool] | None:
        """A condition on ``messages.id`` for the words in ``q``; None when it has no words."""
        return self.search.condition(q)

    def _conditions(self, f: MessageFilter) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = [Message.workspace_id == self.workspace_id]
        if f.q and f.q.strip():
            found = self._search(f.q)
            where.append(found if found is not None else Message.id.is_(None))
        if f.status is not None:
            where.append(
                Message.id.in_(select(MatchState.message_pk).where(MatchState.status == f.status))
            )
        if f.sender and f.sender.strip():
            who = f.sender.strip().lower()
            if "@" in who:
                where.append(func.lower(Message.from_email) == who)
            else:
                where.append(func.lower(Message.from_email).like(f"%@{who.lstrip('@')}"))
        if f.since is not None:
            where.append(Message.date >= _day_start(f.since))
        if f.until is not None and f.until < date.max:
            where.append(Message.date < _day_start(f.until) + timedelta(days=1))
        if f.attachments is not None:
            where.append(
                Message.attachment_count > 0 if f.attachments else Message.attachment_count == 0
            )
        if f.account_id is not None:
            where.append(
                Message.id.in_(
                    select(Location.message_pk)
                    .join(Account, Account.id == Location.account_id)
                    .where(
                        Location.account_id == f.account_id,
                        Account.workspace_id == self.workspace_id,
                    )
                )
            )
        return where

    @staticmethod
    def _after(cursor: str) -> ColumnElement[bool]:
        moment, pk = decode_cursor(cursor)
        if moment is None:
            return and_(Message.date.is_(None), Message.id < pk)
        return or_(
            Message.date < moment,
            and_(Message.date == moment, Message.id < pk),
            Message.date.is_(None),
        )

    def page(self, f: MessageFilter, *, limit: int = 50, cursor: str | None = None) -> MessagePage:
        """One page of messages, newest first, and the cursor of the next page (if any)."""
        limit = max(1, min(limit, MAX_LIMIT))
        where = self._conditions(f)
        if cursor:
            where.append(self._after(cursor))
        query: Select[Any] = (
            select(
                Message.id,
                Message.date,
                Message.from_email,
                Message.from_name,
                Message.subject,
                func.substr(Message.body_text, 1, PREVIEW * 2).label("preview"),
                Message.attachment_count,
            )
            .where(*where)
            .order_by(Message.date.desc().nulls_last(), Message.id.desc())
            .limit(limit + 1)
        )
        with self.db.read() as conn:
            found = conn.execute(query).all()
        more = len(found) > limit
        found = found[:limit]
        pks = [r.id for r in found]
        states = self.states(pks)
        links = self.links(pks)
        rows = [
            MessageRow(
                id=r.id,
                date=aware(r.date),
                from_email=r.from_email,
                from_name=r.from_name,
                subject=r.subject,
                preview=" ".join((r.preview or "").split())[:PREVIEW],
                attachments=r.attachment_count or 0,
                status=states.get(r.id),
                links=links.get(r.id, []),
            )
            for r in found
        ]
        last = rows[-1] if rows else None
        next_cursor = encode_cursor(last.date, last.id) if more and last else None
        return MessagePage(rows, next_cursor)

    # -- what a message matched ---------------------------------------------------------------

    def _by_pk(
        self, pk: Any, value: Any, pks: Iterable[int], *where: ColumnElement[bool]
    ) -> dict[int, Any]:
        """{pk: value} for these message ids (no query when there are none)."""
        wanted = list(pks)
        if not wanted:
            return {}
        with self.db.read() as conn:
            return dict(conn.execute(select(pk, value).where(pk.in_(wanted), *where)).all())

    def states(self, pks: Iterable[int]) -> dict[int, str]:
        return self._by_pk(MatchState.message_pk, MatchState.status, pks)

    def state(self, pk: int) -> tuple[str | None, str | None]:
        """(status, detail) of one message: why it was ignored, or whose mail it is."""
        with self.db.read() as conn:
            row = conn.execute(
                select(MatchState.status, MatchState.detail, MatchState.unmatched_sender)
                .join(Message, Message.id == MatchState.message_pk)
                .where(MatchState.message_pk == pk, Message.workspace_id == self.workspace_id)
            ).first()
        if row is None:
            return None, None
        return row.status, row.detail or row.unmatched_sender

    def links(self, pks: Iterable[int]) -> dict[int, list[LinkView]]:
        """The record links of these messages, with each record's name, grouped by message."""
        wanted = list(pks)
        if not wanted:
            return {}
        with self.db.read() as conn:
            rows = conn.execute(
                select(
                    MessageLink.message_pk,
                    MessageLink.record_type,
                    MessageLink.record_id,
                    MessageLink.reason,
                )
                .where(MessageLink.message_pk.in_(wanted))
                .order_by(MessageLink.message_pk, MessageLink.record_type, MessageLink.id)
            ).all()
            names = self._names(conn, rows)
        out: dict[int, list[LinkView]] = {}
        for pk, kind, rid, reason in rows:
            out.setdefault(pk, []).append(
                LinkView(kind, rid, names.get((kind, rid)) or f"{kind} {rid}", reason)
            )
        return out

    def _names(self, conn: Any, rows: Iterable[Any]) -> dict[tuple[str, int], str]:
        ids: dict[str, set[int]] = {}
        for _, kind, rid, _ in rows:
            ids.setdefault(kind, set()).add(rid)
        names: dict[tuple[str, int], str] = {}
        ws = self.workspace_id
        if ids.get("contact"):
            for cid, name, email in conn.execute(
                select(Contact.id, Contact.name, func.min(ContactEmail.email))
                .outerjoin(ContactEmail, ContactEmail.contact_id == Contact.id)
                .where(Contact.workspace_id == ws, Contact.id.in_(ids["contact"]))
                .group_by(Contact.id, Contact.name)
            ):
                names[("contact", cid)] = name or email or f"contact {cid}"
        for cid, name in company_names_by_id(conn, ws, ids.get("company", ())).items():
            names[("company", cid)] = name
        if ids.get("deal"):
            for did, title in conn.execute(
                select(Deal.id, Deal.title).where(Deal.workspace_id == ws, Deal.id.in_(ids["deal"]))
            ):
                names[("deal", did)] = title
        return names

    # -- helpers for the pages ----------------------------------------------------------------

    def accounts(self) -> list[tuple[int, str]]:
        """(id, name) of the workspace's accounts, for the account filter."""
        with self.db.read() as conn:
            return [
                (r.id, r.name)
                for r in conn.execute(
                    select(Account.id, Account.name)
                    .where(Account.workspace_id == self.workspace_id)
                    .order_by(Account.name)
                )
            ]

    def subjects(self, pks: Iterable[int]) -> dict[int, str]:
        in_workspace = Message.workspace_id == self.workspace_id
        return self._by_pk(Message.id, Message.subject, pks, in_workspace)
