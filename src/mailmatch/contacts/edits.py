"""Editing and removing contacts, companies and deals, with their mail re-matched.

A change re-matches only the messages it concerns: those already linked to the record (their
link may go, or its reason change) and those carrying an address or domain the record had or
now has, found through the address index. A removed record's messages become unmatched, or
match what else they concern, with that record's reason.

Records are named by id, or as the CLI names them: a contact by an address, a company by its
name, a deal by its title (when one deal has it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import Enum
from typing import Any, Final, TypeVar

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from mailmatch.contacts.base import (
    Change,
    RecordBase,
    clean_domain,
    company_domains,
    valid_email,
)
from mailmatch.errors import AlreadyExists, InvalidInput, NotFound
from mailmatch.store.records import (
    Company,
    CompanyDomain,
    Contact,
    ContactEmail,
    Deal,
    DealContact,
)

T = TypeVar("T")


class Keep(Enum):
    """The value of a field an edit leaves as it is (``None`` clears a field that may be empty)."""

    KEEP = "keep"


KEEP: Final = Keep.KEEP


def _changed(value: T | Keep, current: T) -> T:
    return current if value is KEEP else value


def _members(
    current: list[str],
    replace: list[str] | Keep,
    add: Iterable[str],
    remove: Iterable[str],
    clean: Callable[[str], str],
) -> list[str] | None:
    """The new members of a list (addresses, domains) or None when the edit leaves it alone:
    ``replace`` sets it, then ``add`` and ``remove`` change it (the CLI's --add-/--remove-)."""
    adds, removes = [clean(v) for v in add], {clean(v) for v in remove}
    if replace is KEEP and not adds and not removes:
        return None
    base = current if replace is KEEP else [clean(v) for v in replace]
    return [v for v in dict.fromkeys([*base, *adds]) if v not in removes]


class RecordEdits(RecordBase):
    """Finding records by the names people use, editing them and removing them."""

    # -- finding ------------------------------------------------------------------------------

    def _own(self, session: Session, model: Any, record_id: int, what: str) -> Any:
        row = session.get(model, record_id)
        if row is None or row.workspace_id != self.workspace_id:
            raise NotFound(f"no {what} {record_id}")
        return row

    def find_contact(self, ref: str) -> int:
        """A contact's id from one of its addresses, or from its id."""
        with self.db.read_session() as session:
            if "@" in ref:
                return self._contact_of(session, ref)
            if ref.strip().isdigit():
                return int(self._own(session, Contact, int(ref), "contact").id)
        raise InvalidInput(f"give a contact's email address or id, not {ref!r}")

    def find_company(self, ref: str) -> int:
        """A company's id from its name, or from its id."""
        with self.db.read_session() as session:
            found = session.scalar(
                select(Company.id).where(
                    Company.workspace_id == self.workspace_id, Company.name == ref.strip()
                )
            )
            if found is not None:
                return int(found)
            if ref.strip().isdigit():
                return int(self._own(session, Company, int(ref), "company").id)
        raise NotFound(f"no company named {ref!r}", advice=["mailmatch companies list"])

    def find_deal(self, ref: str) -> int:
        """A deal's id from its title (when only one deal has it), or from its id."""
        with self.db.read_session() as session:
            ids = session.scalars(
                select(Deal.id)
                .where(Deal.workspace_id == self.workspace_id, Deal.title == ref.strip())
                .order_by(Deal.id)
            ).all()
            if len(ids) == 1:
                return int(ids[0])
            if len(ids) > 1:
                raise InvalidInput(
                    f"{len(ids)} deals are titled {ref!r}: give the id of one",
                    advice=[f"ids: {', '.join(str(i) for i in ids)}"],
                )
            if ref.strip().isdigit():
                return int(self._own(session, Deal, int(ref), "deal").id)
        raise NotFound(f"no deal titled {ref!r}")

    # -- contacts -----------------------------------------------------------------------------

    def _emails_of(self, session: Session, contact_id: int) -> list[str]:
        return list(
            session.scalars(
                select(ContactEmail.email)
                .where(ContactEmail.contact_id == contact_id)
                .order_by(ContactEmail.email)
            ).all()
        )

    def edit_contact(
        self,
        contact_id: int,
        *,
        name: str | Keep = KEEP,
        emails: list[str] | Keep = KEEP,
        company: str | Keep | None = KEEP,
        title: str | Keep | None = KEEP,
        add_emails: Iterable[str] = (),
        remove_emails: Iterable[str] = (),
    ) -> Change:
        """Change a contact; ``emails`` replaces its addresses, ``company`` names a company
        (created if new) or None for none. The mail of the old and the new addresses moves."""
        before = self.matches.messages_linked_to("contact", contact_id)
        with self.db.session() as session:
            contact: Contact = self._own(session, Contact, contact_id, "contact")
            old = self._emails_of(session, contact_id)
            wanted = _members(
                old,
                emails,
                add_emails,
                remove_emails,
                lambda e: self.matches.normalizer(valid_email(e)),
            )
            if wanted == []:
                raise InvalidInput(
                    "a contact needs at least one email address",
                    advice=["remove the contact instead"],
                )
            contact.name = _changed(name, contact.name).strip()
            contact.title = _changed(title, contact.title)
            if company is None:
                contact.company_id = None
            elif company is not KEEP:
                contact.company_id = self._company(session, company.strip()).id
            if wanted is not None:
                for address in wanted:
                    row = session.get(ContactEmail, (self.workspace_id, address))
                    if row is not None and row.contact_id != contact_id:
                        raise AlreadyExists(f"{address} already belongs to another contact")
                session.execute(
                    delete(ContactEmail).where(
                        ContactEmail.contact_id == contact_id,
                        ContactEmail.email.not_in(wanted),
                    )
                )
                for address in wanted:
                    if address not in old:
                        session.add(self._email(address, contact_id))
            session.flush()
            record = self._contact_json(session, contact)
        pks = before | self.matches.messages_with_emails({*old, *(wanted or [])})
        return Change(record, self._rematch(pks))

    def remove_contact(self, contact_id: int) -> Change:
        """Remove a contact (its addresses and its place on deals go with it)."""
        with self.db.session() as session:
            contact: Contact = self._own(session, Contact, contact_id, "contact")
            record = self._contact_json(session, contact)
            session.delete(contact)
        pks = self.matches.messages_linked_to("contact", contact_id)
        pks |= self.matches.messages_with_emails(record["emails"])
        return Change(record, self._rematch(pks))

    # -- companies ----------------------------------------------------------------------------

    def _company_json(self, session: Session, company: Company) -> dict[str, Any]:
        domains = session.scalars(
            select(CompanyDomain.domain)
            .where(CompanyDomain.company_id == company.id)
            .order_by(CompanyDomain.domain)
        ).all()
        return {"id": company.id, "name": company.name, "domains": list(domains)}

    def edit_company(
        self,
        company_id: int,
        *,
        name: str | Keep = KEEP,
        domains: list[str] | Keep = KEEP,
        add_domains: Iterable[str] = (),
        remove_domains: Iterable[str] = (),
    ) -> Change:
        """Rename a company or replace its domains; mail of the old and new domains moves."""
        before = self.matches.messages_linked_to("company", company_id)
        with self.db.session() as session:
            company: Company = self._own(session, Company, company_id, "company")
            old = self._company_json(session, company)["domains"]
            wanted = _members(old, domains, add_domains, remove_domains, clean_domain)
            if wanted is not None:
                wanted = company_domains(wanted)
            if name is not KEEP and name.strip() != company.name:
                if not name.strip():
                    raise InvalidInput("a company needs a name")
                if session.scalar(
                    select(Company.id).where(
                        Company.workspace_id == self.workspace_id, Company.name == name.strip()
                    )
                ):
                    raise AlreadyExists(f"there is already a company named {name.strip()!r}")
                company.name = name.strip()
            if wanted is not None:
                for domain in wanted:
                    owner = session.get(CompanyDomain, (self.workspace_id, domain))
                    if owner is not None and owner.company_id != company_id:
                        raise AlreadyExists(f"{domain} already belongs to another company")
                session.execute(
                    delete(CompanyDomain).where(
                        CompanyDomain.company_id == company_id,
                        CompanyDomain.domain.not_in(wanted),
                    )
                )
                for domain in wanted:
                    if domain not in old:
                        session.add(self._domain(domain, company_id))
            session.flush()
            record = self._company_json(session, company)
        pks = before | self.matches.messages_with_domains({*old, *(wanted or [])})
        return Change(record, self._rematch(pks))

    def remove_company(self, company_id: int) -> Change:
        """Remove a company: its contacts and deals stay, without a company."""
        before = self.matches.messages_linked_to("company", company_id)
        with self.db.session() as session:
            company: Company = self._own(session, Company, company_id, "company")
            record = self._company_json(session, company)
            session.delete(company)
        pks = before | self.matches.messages_with_domains(record["domains"])
        return Change(record, self._rematch(pks))

    # -- deals --------------------------------------------------------------------------------

    def _deal_json(self, session: Session, deal: Deal) -> dict[str, Any]:
        company = session.get(Company, deal.company_id) if deal.company_id else None
        emails = session.scalars(
            select(ContactEmail.email)
            .join(DealContact, DealContact.contact_id == ContactEmail.contact_id)
            .where(DealContact.deal_id == deal.id)
            .order_by(ContactEmail.email)
        ).all()
        return {
            "id": deal.id,
            "title": deal.title,
            "stage": deal.stage,
            "amount": deal.amount,
            "is_open": bool(deal.is_open),
            "company": company.name if company else None,
            "contacts": list(emails),
        }

    def edit_deal(
        self,
        deal_id: int,
        *,
        title: str | Keep = KEEP,
        stage: str | Keep = KEEP,
        amount: float | Keep | None = KEEP,
        is_open: bool | Keep = KEEP,
        company: str | Keep | None = KEEP,
        contacts: list[str] | Keep = KEEP,
        add_contacts: Iterable[str] = (),
        remove_contacts: Iterable[str] = (),
    ) -> Change:
        """Change a deal; ``company`` is an existing company's name (None: none), ``contacts``
        the addresses of existing contacts, replacing the deal's. A closed deal links no mail."""
        with self.db.session() as session:
            deal: Deal = self._own(session, Deal, deal_id, "deal")
            if title is not KEEP and not title.strip():
                raise InvalidInput("a deal needs a title")
            deal.title = _changed(title, deal.title).strip()
            deal.stage = _changed(stage, deal.stage).strip() or "open"
            deal.amount = _changed(amount, deal.amount)
            deal.is_open = _changed(is_open, deal.is_open)
            if company is None:
                deal.company_id = None
            elif company is not KEEP:
                deal.company_id = self._company(session, company.strip(), create=False).id
            current = self._deal_json(session, deal)["contacts"]
            emails = _members(current, contacts, add_contacts, remove_contacts, valid_email)
            if emails is not None:
                ids = list(dict.fromkeys(self._contact_of(session, e) for e in emails))
                session.execute(delete(DealContact).where(DealContact.deal_id == deal_id))
                session.add_all(DealContact(deal_id=deal_id, contact_id=c) for c in ids)
            session.flush()
            record = self._deal_json(session, deal)
            contact_ids = list(
                session.scalars(
                    select(DealContact.contact_id).where(DealContact.deal_id == deal_id)
                ).all()
            )
            company_id = deal.company_id
        pks = self.matches.messages_linked_to("deal", deal_id)
        for cid in contact_ids:
            pks |= self.matches.messages_linked_to("contact", cid)
        if company_id is not None:
            pks |= self.matches.messages_linked_to("company", company_id)
        return Change(record, self._rematch(pks))

    def remove_deal(self, deal_id: int) -> Change:
        """Remove a deal; its contacts and company stay."""
        with self.db.session() as session:
            deal: Deal = self._own(session, Deal, deal_id, "deal")
            record = self._deal_json(session, deal)
            session.delete(deal)
        pks = self.matches.messages_linked_to("deal", deal_id)
        return Change(record, self._rematch(pks))
