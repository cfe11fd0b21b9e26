"""Reading contacts, companies and deals for the web pages and the API: lists and detail.

Writes go through ``RecordService`` (it re-matches the affected mail); this module only reads,
always inside one workspace, and answers an id of another workspace as not found.

Lists count matched mail per record on the page only (one grouped query over the ids shown),
never for the whole table, so a list stays fast with many thousands of records.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, or_, select

from mailmatch.contacts.rows import (
    AddressMail,
    AddressTimeline,
    CompanyRow,
    ContactRow,
    DealRow,
    Detail,
    Listing,
    Ref,
    TimelineItem,
)
from mailmatch.errors import NotFound
from mailmatch.matching.matcher import ROLE_LABELS
from mailmatch.store.db import Database
from mailmatch.store.models import Message
from mailmatch.store.records import (
    Company,
    CompanyDomain,
    Contact,
    ContactEmail,
    Deal,
    DealContact,
    MessageLink,
)
from mailmatch.timeutil import aware

MAX_LIMIT = 200


def _like(q: str) -> str:
    escaped = q.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _bounds(limit: int, offset: int) -> tuple[int, int]:
    return max(1, min(limit, MAX_LIMIT)), max(0, min(offset, 2**31))


def company_names_by_id(conn: Connection, workspace_id: int, ids: Iterable[int]) -> dict[int, str]:
    """{id: name} of these companies of the workspace (for links and references to them)."""
    wanted = set(ids)
    if not wanted:
        return {}
    return dict(
        conn.execute(
            select(Company.id, Company.name).where(
                Company.workspace_id == workspace_id, Company.id.in_(wanted)
            )
        ).all()
    )


# Longest first: "Reply-To address" must not be read as a shorter label.
_LABELS = sorted(ROLE_LABELS.values(), key=len, reverse=True)


def _short_role(label: str) -> str:
    return {"Forwarded message from": "Forwarded"}.get(label, label.removesuffix(" address"))


def timeline_by_address(timeline: list[TimelineItem]) -> list[AddressTimeline]:
    """A contact's timeline grouped by the address and reason its mail matched through, so
    the reason ("jane@acme.com belongs to contact Jane Doe") is said once per address and
    each message shows only the header the address was in. Groups keep the timeline's order
    (the one with the newest mail first), and so does the mail inside each."""
    groups: dict[str, AddressTimeline] = {}
    for item in timeline:
        label = next((x for x in _LABELS if item.reason.startswith(x + " ")), "")
        rest = item.reason[len(label) :].strip() if label else item.reason
        address, _, why = rest.partition(" ")
        group = groups.setdefault(rest, AddressTimeline(address, why))
        group.mail.append(AddressMail(_short_role(label) if label else "", item))
    return list(groups.values())


class RecordQueries:
    def __init__(self, db: Database, *, workspace_id: int) -> None:
        self.db = db
        self.workspace_id = workspace_id

    # -- shared -------------------------------------------------------------------------------

    def _mail(
        self, conn: Connection, record_type: str, ids: Iterable[int]
    ) -> dict[int, tuple[int, datetime | None]]:
        """Matched-mail count and latest date per record, for the given records only."""
        wanted = list(ids)
        if not wanted:
            return {}
        rows = conn.execute(
            select(MessageLink.record_id, func.count(), func.max(Message.date))
            .join(Message, Message.id == MessageLink.message_pk)
            .where(
                Message.workspace_id == self.workspace_id,
                MessageLink.record_type == record_type,
                MessageLink.record_id.in_(wanted),
            )
            .group_by(MessageLink.record_id)
        ).all()
        return {rid: (int(n), aware(last)) for rid, n, last in rows}

    def timeline(self, record_type: str, record_id: int, limit: int = 100) -> list[TimelineItem]:
        """The record's matched mail, newest first, with the reason of each link."""
        with self.db.read() as conn:
            rows = conn.execute(
                select(
                    Message.id,
                    Message.date,
                    Message.from_email,
                    Message.from_name,
                    Message.subject,
                    MessageLink.reason,
                )
                .join(MessageLink, MessageLink.message_pk == Message.id)
                .where(
                    Message.workspace_id == self.workspace_id,
                    MessageLink.record_type == record_type,
                    MessageLink.record_id == record_id,
                )
                .order_by(Message.date.desc().nulls_last(), Message.id.desc())
                .limit(max(1, min(limit, 500)))
            ).all()
        return [TimelineItem(r[0], aware(r[1]), r[2], r[3], r[4], r[5]) for r in rows]

    def _page(
        self, conn: Connection, query: Any, order: tuple[Any, ...], limit: int, offset: int
    ) -> tuple[int, list[Any]]:
        """How many rows ``query`` finds in all, and the page of them at ``offset``."""
        total = int(conn.execute(select(func.count()).select_from(query.subquery())).scalar_one())
        found = conn.execute(query.order_by(*order).limit(limit).offset(offset)).all()
        return total, list(found)

    def company_names(self) -> list[str]:
        with self.db.read() as conn:
            return list(
                conn.execute(
                    select(Company.name)
                    .where(Company.workspace_id == self.workspace_id)
                    .order_by(Company.name)
                ).scalars()
            )

    # -- contacts -----------------------------------------------------------------------------

    def _contact_select(self) -> Any:
        return select(Contact.id, Contact.name, Contact.company_id, Contact.title).where(
            Contact.workspace_id == self.workspace_id
        )

    def _contact_rows(self, conn: Connection, contacts: list[Any]) -> list[ContactRow]:
        ids = [c.id for c in contacts]
        emails: dict[int, list[str]] = {}
        for cid, email in conn.execute(
            select(ContactEmail.contact_id, ContactEmail.email)
            .where(ContactEmail.workspace_id == self.workspace_id, ContactEmail.contact_id.in_(ids))
            .order_by(ContactEmail.email)
        ):
            emails.setdefault(cid, []).append(email)
        companies = company_names_by_id(conn, self.workspace_id, (c.company_id for c in contacts))
        mail = self._mail(conn, "contact", ids)
        rows = []
        for c in contacts:
            count, last = mail.get(c.id, (0, None))
            company = (
                Ref(c.company_id, companies[c.company_id]) if c.company_id in companies else None
            )
            rows.append(
                ContactRow(c.id, c.name, emails.get(c.id, []), company, c.title, count, last)
            )
        return rows

    def contacts(
        self, q: str | None = None, *, limit: int = 50, offset: int = 0
    ) -> Listing[ContactRow]:
        limit, offset = _bounds(limit, offset)
        query = self._contact_select()
        if q and q.strip():
            pattern = _like(q)
            query = query.where(
                or_(
                    func.lower(Contact.name).like(pattern, escape="\\"),
                    Contact.id.in_(
                        select(ContactEmail.contact_id).where(
                            ContactEmail.workspace_id == self.workspace_id,
                            ContactEmail.email.like(pattern, escape="\\"),
                        )
                    ),
                )
            )
        order = (func.lower(Contact.name), Contact.id)
        with self.db.read() as conn:
            total, found = self._page(conn, query, order, limit, offset)
            return Listing(self._contact_rows(conn, found), total, offset, limit)

    def contact_records(self, batch: int = 1000) -> Iterator[dict[str, Any]]:
        """Every contact of the workspace, by name, as ``RecordService.contacts()`` describes
        them (``contacts list --json``), yielded while they are read.

        One ordered query over all contacts in one read transaction (a consistent snapshot),
        and for each ``batch`` of them one query each for their addresses, their companies'
        names and their matched-mail counts: 100,000 contacts take a few hundred queries,
        where a query per contact and field took 300,000.
        """
        query = (
            select(
                Contact.id,
                Contact.name,
                Contact.company_id,
                Contact.title,
                Contact.owner,
                Contact.tags,
                Contact.custom,
            )
            .where(Contact.workspace_id == self.workspace_id)
            .order_by(Contact.name, Contact.id)
        )
        with self.db.read() as conn:
            result = conn.execution_options(stream_results=True, yield_per=batch).execute(query)
            for part in result.partitions():
                yield from self._contact_records(conn, list(part))

    def _contact_records(self, conn: Connection, contacts: list[Any]) -> list[dict[str, Any]]:
        ids = [c.id for c in contacts]
        emails: dict[int, list[str]] = {}
        for cid, email in conn.execute(
            select(ContactEmail.contact_id, ContactEmail.email)
            .where(ContactEmail.workspace_id == self.workspace_id, ContactEmail.contact_id.in_(ids))
            .order_by(ContactEmail.email)
        ):
            emails.setdefault(cid, []).append(email)
        companies = company_names_by_id(conn, self.workspace_id, (c.company_id for c in contacts))
        links = dict(
            conn.execute(
                select(MessageLink.record_id, func.count())
                .where(MessageLink.record_type == "contact", MessageLink.record_id.in_(ids))
                .group_by(MessageLink.record_id)
            ).all()
        )
        return [
            {
                "id": c.id,
                "name": c.name,
                "emails": emails.get(c.id, []),
                "company": companies.get(c.company_id) if c.company_id else None,
                "title": c.title,
                "owner": c.owner,
                "tags": c.tags or [],
                "custom": c.custom or {},
                "messages": int(links.get(c.id, 0)),
            }
            for c in contacts
        ]

    def contact(self, contact_id: int) -> Detail[ContactRow]:
        with self.db.read() as conn:
            found = conn.execute(self._contact_select().where(Contact.id == contact_id)).first()
            if found is None:
                raise NotFound(f"no contact {contact_id}")
            row = self._contact_rows(conn, [found])[0]
            deals = self._deal_rows(
                conn,
                list(
                    conn.execute(
                        self._deal_select()
                        .join(DealContact, DealContact.deal_id == Deal.id)
                        .where(DealContact.contact_id == contact_id)
                        .order_by(Deal.created_at.desc())
                    ).all()
                ),
            )
        return Detail(row, deals=deals, timeline=self.timeline("contact", contact_id))

    # -- companies ----------------------------------------------------------------------------

    def _company_rows(self, conn: Connection, companies: list[Any]) -> list[CompanyRow]:
        ids = [c.id for c in companies]
        domains: dict[int, list[str]] = {}
        for cid, domain in conn.execute(
            select(CompanyDomain.company_id, CompanyDomain.domain)
            .where(
                CompanyDomain.workspace_id == self.workspace_id, CompanyDomain.company_id.in_(ids)
            )
            .order_by(CompanyDomain.domain)
        ):
            domains.setdefault(cid, []).append(domain)
        people = dict(
            conn.execute(
                select(Contact.company_id, func.count())
                .where(Contact.workspace_id == self.workspace_id, Contact.company_id.in_(ids))
                .group_by(Contact.company_id)
            ).all()
        )
        mail = self._mail(conn, "company", ids)
        return [
            CompanyRow(
                c.id,
                c.name,
                domains.get(c.id, []),
                int(people.get(c.id, 0)),
                *mail.get(c.id, (0, None)),
            )
            for c in companies
        ]

    def companies(
        self, q: str | None = None, *, limit: int = 50, offset: int = 0
    ) -> Listing[CompanyRow]:
        limit, offset = _bounds(limit, offset)
        query = select(Company.id, Company.name).where(Company.workspace_id == self.workspace_id)
        if q and q.strip():
            pattern = _like(q)
            query = query.where(
                or_(
                    func.lower(Company.name).like(pattern, escape="\\"),
                    Company.id.in_(
                        select(CompanyDomain.company_id).where(
                            CompanyDomain.workspace_id == self.workspace_id,
                            CompanyDomain.domain.like(pattern, escape="\\"),
                        )
                    ),
                )
            )
        order = (func.lower(Company.name), Company.id)
        with self.db.read() as conn:
            total, found = self._page(conn, query, order, limit, offset)
            return Listing(self._company_rows(conn, found), total, offset, limit)

    def company(self, company_id: int) -> Detail[CompanyRow]:
        with self.db.read() as conn:
            found = conn.execute(
                select(Company.id, Company.name).where(
                    Company.workspace_id == self.workspace_id, Company.id == company_id
                )
            ).first()
            if found is None:
                raise NotFound(f"no company {company_id}")
            row = self._company_rows(conn, [found])[0]
            people = conn.execute(
                self._contact_select()
                .where(Contact.company_id == company_id)
                .order_by(func.lower(Contact.name), Contact.id)
                .limit(500)
            ).all()
            contacts = self._contact_rows(conn, list(people))
            deals = self._deal_rows(
                conn,
                list(
                    conn.execute(
                        self._deal_select()
                        .where(Deal.company_id == company_id)
                        .order_by(Deal.created_at.desc())
                    ).all()
                ),
            )
        return Detail(row, contacts, deals, self.timeline("company", company_id))

    # -- deals --------------------------------------------------------------------------------

    def _deal_select(self) -> Any:
        return select(
            Deal.id, Deal.title, Deal.stage, Deal.amount, Deal.is_open, Deal.company_id
        ).where(Deal.workspace_id == self.workspace_id)

    def _deal_rows(self, conn: Connection, deals: list[Any]) -> list[DealRow]:
        companies = company_names_by_id(conn, self.workspace_id, (d.company_id for d in deals))
        mail = self._mail(conn, "deal", [d.id for d in deals])
        return [
            DealRow(
                d.id,
                d.title,
                d.stage,
                d.amount,
                bool(d.is_open),
                Ref(d.company_id, companies[d.company_id]) if d.company_id in companies else None,
                *mail.get(d.id, (0, None)),
            )
            for d in deals
        ]

    def deals(self, q: str | None = None, *, limit: int = 50, offset: int = 0) -> Listing[DealRow]:
        limit, offset = _bounds(limit, offset)
        query = self._deal_select()
        if q and q.strip():
            query = query.where(func.lower(Deal.title).like(_like(q), escape="\\"))
        order = (Deal.is_open.desc(), Deal.created_at.desc(), Deal.id.desc())
        with self.db.read() as conn:
            total, found = self._page(conn, query, order, limit, offset)
            return Listing(self._deal_rows(conn, found), total, offset, limit)

    def deal(self, deal_id: int) -> Detail[DealRow]:
        with self.db.read() as conn:
            found = conn.execute(self._deal_select().where(Deal.id == deal_id)).first()
            if found is None:
                raise NotFound(f"no deal {deal_id}")
            row = self._deal_rows(conn, [found])[0]
            people = conn.execute(
                self._contact_select()
                .join(DealContact, DealContact.contact_id == Contact.id)
                .where(DealContact.deal_id == deal_id)
                .order_by(func.lower(Contact.name))
            ).all()
            contacts = self._contact_rows(conn, list(people))
        return Detail(row, contacts=contacts, timeline=self.timeline("deal", deal_id))
