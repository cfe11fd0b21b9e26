"""Contacts, companies and deals; every change re-matches the mail it affects.

Re-matching goes through the address index (``message_addresses.email`` / ``.domain``): adding
a contact re-matches the messages that carry one of its addresses and nothing else.

A ``RecordService`` works in one workspace: records are created there, looked up there (a
record of another workspace, by id, name or address, does not exist here) and re-match only
that workspace's mail.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailmatch.contacts.base import (
    Change,
    Rematching,
    clean_domain,
    company_domains,
    valid_email,
)
from mailmatch.contacts.edits import RecordEdits
from mailmatch.errors import AlreadyExists, NotFound
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

# Re-exported: the other services and the web layers import them from here.
__all__ = ["Change", "RecordService", "Rematching", "clean_domain", "valid_email"]


class RecordService(RecordEdits):
    """Contacts, companies and deals: adding and reading here, editing and removing in
    :mod:`.edits`. Ignore rules: ``RuleService`` (contacts/rules.py); many records at once:
    ``RecordImporter`` (contacts/bulk.py)."""

    # -- companies ----------------------------------------------------------------------------

    def add_company(self, name: str, domains: list[str]) -> Change:
        cleaned = company_domains(domains)
        with self.db.session() as session:
            company = self._company(session, name)
            for domain in cleaned:
                owner = session.get(CompanyDomain, (self.workspace_id, domain))
                if owner is not None and owner.company_id != company.id:
                    raise AlreadyExists(f"{domain} already belongs to another company")
                if owner is None:
                    session.add(self._domain(domain, company.id))
            company_id = company.id
            record: dict[str, Any] = {"id": company_id, "name": name, "domains": cleaned}
        pks = self.matches.messages_with_domains(cleaned)
        # Mail of the company's contacts (any domain) links to it too.
        pks |= self._messages_of_company_contacts(company_id)
        self._rematch(pks)
        return Change(record, len(pks))

    def companies(self) -> list[dict[str, Any]]:
        with self.db.read_session() as session:
            out = []
            for company in session.scalars(
                select(Company)
                .where(Company.workspace_id == self.workspace_id)
                .order_by(Company.name)
            ):
                domains = session.scalars(
                    select(CompanyDomain.domain).where(CompanyDomain.company_id == company.id)
                ).all()
                out.append(
                    {
                        "id": company.id,
                        "name": company.name,
                        "domains": sorted(domains),
                        "messages": self._link_count(session, "company", company.id),
                    }
                )
            return out

    def _messages_of_company_contacts(self, company_id: int) -> set[int]:
        with self.db.read_session() as session:
            emails = session.scalars(
                select(ContactEmail.email)
                .join(Contact, Contact.id == ContactEmail.contact_id)
                .where(Contact.workspace_id == self.workspace_id, Contact.company_id == company_id)
            ).all()
        return self.matches.messages_with_emails(emails) if emails else set()

    # -- contacts -----------------------------------------------------------------------------

    def add_contact(
        self,
        email: str,
        name: str | None = None,
        company: str | None = None,
        *,
        more_emails: list[str] | None = None,
        title: str | None = None,
        owner: str | None = None,
        tags: list[str] | None = None,
        custom: dict[str, Any] | None = None,
        source_id: str | None = None,
    ) -> Change:
        emails = list(dict.fromkeys(valid_email(e) for e in [email, *(more_emails or [])]))
        normalized = [self.matches.normalizer(e) for e in emails]
        with self.db.session() as session:
            existing = session.scalar(
                select(ContactEmail).where(
                    ContactEmail.workspace_id == self.workspace_id,
                    ContactEmail.email.in_(normalized),
                )
            )
            contact = session.get(Contact, existing.contact_id) if existing else None
            if contact is None:
                contact = Contact(
                    workspace_id=self.workspace_id,
                    name=name or "",
                    tags=tags or [],
                    custom=custom or {},
                )
                session.add(contact)
            elif name:
                contact.name = name
            if company:
                contact.company_id = self._company(session, company).id
            contact.title = title or contact.title
            contact.owner = owner or contact.owner
            contact.source_id = source_id or contact.source_id
            if tags:
                contact.tags = sorted({*(contact.tags or []), *tags})
            if custom:
                contact.custom = {**(contact.custom or {}), **custom}
            session.flush()
            for address in normalized:
                row = session.get(ContactEmail, (self.workspace_id, address))
                if row is None:
                    session.add(self._email(address, contact.id))
                elif row.contact_id != contact.id:
                    raise AlreadyExists(f"{address} already belongs to another contact")
            record = self._contact_json(session, contact)
        pks = self.matches.messages_with_emails(emails)
        self._rematch(pks)
        return Change(record, len(pks))

    def contacts(self) -> list[dict[str, Any]]:
        with self.db.read_session() as session:
            return [
                {
                    **self._contact_json(session, c),
                    "messages": self._link_count(session, "contact", c.id),
                }
                for c in session.scalars(
                    select(Contact)
                    .where(Contact.workspace_id == self.workspace_id)
                    .order_by(Contact.name, Contact.id)
                )
            ]

    def show_contact(self, email: str, limit: int = 200) -> dict[str, Any]:
        address = self.matches.normalizer(email)
        with self.db.read_session() as session:
            row = session.get(ContactEmail, (self.workspace_id, address))
            if row is None:
                raise NotFound(f"no contact with {address}")
            contact = session.get(Contact, row.contact_id)
            assert contact is not None
            return {
                "contact": self._contact_json(session, contact),
                "messages": self._timeline(session, "contact", contact.id, limit),
            }

    def _timeline(
        self, session: Session, record_type: str, record_id: int, limit: int
    ) -> list[dict[str, Any]]:
        rows = session.execute(
            select(Message.id, Message.subject, Message.date, MessageLink.reason)
            .join(MessageLink, MessageLink.message_pk == Message.id)
            .where(
                Message.workspace_id == self.workspace_id,
                MessageLink.record_type == record_type,
                MessageLink.record_id == record_id,
            )
            .order_by(Message.date.desc(), Message.id.desc())
            .limit(limit)
        ).all()
        return [
            {
                "id": pk,
                "subject": subject,
                "date": (aware(date).isoformat() if date else None),  # type: ignore[union-attr]
                "reason": reason,
            }
            for pk, subject, date, reason in rows
        ]

    @staticmethod
    def _link_count(session: Session, record_type: str, record_id: int) -> int:
        return len(
            session.scalars(
                select(MessageLink.id).where(
                    MessageLink.record_type == record_type, MessageLink.record_id == record_id
                )
            ).all()
        )

    # -- deals --------------------------------------------------------------------------------

    def add_deal(
        self,
        title: str,
        *,
        company: str | None = None,
        contacts: list[str] | None = None,
        stage: str = "open",
        amount: float | None = None,
    ) -> Change:
        with self.db.session() as session:
            deal = Deal(
                workspace_id=self.workspace_id,
                title=title,
                stage=stage,
                amount=amount,
                is_open=True,
            )
            if company:
                deal.company_id = self._company(session, company, create=False).id
            session.add(deal)
            session.flush()
            for email in contacts or []:
                row = session.get(ContactEmail, (self.workspace_id, self.matches.normalizer(email)))
                if row is None:
                    raise NotFound(f"no contact with {email}", advice=["add it first"])
                session.add(DealContact(deal_id=deal.id, contact_id=row.contact_id))
            record = {"id": deal.id, "title": title, "stage": stage, "company": company}
            contact_ids = [
                r.contact_id
                for r in session.scalars(select(DealContact).where(DealContact.deal_id == deal.id))
            ]
            company_id = deal.company_id
        pks: set[int] = set()
        for cid in contact_ids:
            pks |= self.matches.messages_linked_to("contact", cid)
        if company_id is not None:
            pks |= self.matches.messages_linked_to("company", company_id)
        self._rematch(pks)
        return Change(record, len(pks))
