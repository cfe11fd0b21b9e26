"""Decide, for a set of messages, which records they belong to and why.

The matcher works on a chunk of messages at a time and looks up only the addresses and
domains those messages contain, so matching everything and re-matching the dozen messages a
new contact touches are the same code with different chunks.

Records are looked up in one workspace only (the messages' own): a contact, company or deal of
another workspace never links a message here.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import Connection, select

from mailmatch.matching.addresses import Normalizer, domain_of, is_freemail
from mailmatch.matching.rules import Rule
from mailmatch.store.models import DEFAULT_WORKSPACE_ID, MessageAddress
from mailmatch.store.records import (
    Company,
    CompanyDomain,
    Contact,
    ContactEmail,
    Deal,
    DealContact,
)

ROLE_LABELS = {
    "from": "From address",
    "sender": "Sender address",
    "reply_to": "Reply-To address",
    "to": "To address",
    "cc": "Cc address",
    "bcc": "Bcc address",
    "fwd_from": "Forwarded message from",
}
ROLE_ORDER = ("fwd_from", "from", "sender", "reply_to", "to", "cc", "bcc")


ContactHit = tuple[int, str, int | None, str | None]  # id, name, company id, company name


@dataclass(frozen=True)
class Link:
    record_type: str  # contact | company | deal
    record_id: int
    reason: str


@dataclass
class Outcome:
    message_pk: int
    links: list[Link] = field(default_factory=list)
    status: str = "ignored"  # matched | unmatched | ignored
    detail: str | None = None
    unmatched_sender: str | None = None


class Matcher:
    def __init__(
        self,
        rules: list[Rule],
        normalizer: Normalizer | None = None,
        *,
        workspace_id: int = DEFAULT_WORKSPACE_ID,
    ) -> None:
        self.rules = rules
        self.normalize = normalizer or Normalizer()
        self.workspace_id = workspace_id

    def _ignored(self, email: str) -> str | None:
        for rule in self.rules:
            reason = rule.check(email)
            if reason:
                return reason
        return None

    def match(self, conn: Connection, message_pks: list[int]) -> list[Outcome]:
        """Outcomes for ``message_pks``, which the caller has checked are the workspace's."""
        rows = conn.execute(
            select(MessageAddress.message_pk, MessageAddress.role, MessageAddress.email).where(
                MessageAddress.message_pk.in_(message_pks)
            )
        ).all()
        by_message: dict[int, list[tuple[str, str]]] = defaultdict(list)
        for pk, role, email in rows:
            by_message[pk].append((role, self.normalize(email)))
        # Forwarded mail also carries its original sender (role fwd_from): an internal
        # forwarder is ignored by the own-domain rule, so the mail lands on the customer's record.

        emails = {e for pairs in by_message.values() for _, e in pairs}
        contacts = self._contacts(conn, emails)
        domains = {domain_of(e) for e in emails}
        companies = self._companies(conn, {d for d in domains if not is_freemail(d)})
        contact_ids = {c[0] for c in contacts.values()}
        company_ids = {c[0] for c in companies.values()} | {
            c[2] for c in contacts.values() if c[2] is not None
        }
        deals = self._deals(conn, contact_ids, company_ids)

        outcomes = []
        for pk in message_pks:
            pairs = sorted(
                by_message.get(pk, []),
                key=lambda p: ROLE_ORDER.index(p[0]) if p[0] in ROLE_ORDER else 99,
            )
            outcomes.append(self._one(pk, pairs, contacts, companies, deals))
        return outcomes

    def _one(
        self,
        pk: int,
        pairs: list[tuple[str, str]],
        contacts: dict[str, ContactHit],
        companies: dict[str, tuple[int, str]],
        deals: tuple[dict[int, list[tuple[int, str]]], dict[int, list[tuple[int, str]]]],
    ) -> Outcome:
        outcome = Outcome(pk)
        seen: set[tuple[str, int]] = set()
        ignored: list[str] = []
        outside: list[str] = []

        def link(kind: str, record_id: int, reason: str) -> None:
            if (kind, record_id) not in seen:
                seen.add((kind, record_id))
                outcome.links.append(Link(kind, record_id, reason))

        for role, email in pairs:
            label = ROLE_LABELS.get(role, role)
            reason = self._ignored(email)
            if reason:
                ignored.append(reason)
                continue
            matched = False
            contact = contacts.get(email)
            if contact is not None:
                contact_id, name, company_id, company_name = contact
                link("contact", contact_id, f"{label} {email} belongs to contact {name}")
                for deal_id, title in deals[0].get(contact_id, []):
                    link("deal", deal_id, f"{label} {email} is {name}, a contact on deal {title}")
                if company_id is not None:
                    link(
                        "company",
                        company_id,
                        f"{label} {email} belongs to {name}, who works at {company_name}",
                    )
                    for deal_id, title in deals[1].get(company_id, []):
                        link("deal", deal_id, f"{label} {email} is {name} of {company_name}, "
                             f"the company of deal {title}")  # fmt: skip
                matched = True
            domain = domain_of(email)
            company = companies.get(domain)
            if company is not None:
                company_id_, cname = company
                link("company", company_id_, f"{label} {email} is at {domain}, a domain of {cname}")
                for deal_id, title in deals[1].get(company_id_, []):
                    link(
                        "deal",
                        deal_id,
                        f"{label} {email} is at {cname}, the company of deal {title}",
                    )
                matched = True
            if not matched:
                outside.append(email)

        if outcome.links:
            outcome.status = "matched"
        elif outside:
            outcome.status = "unmatched"
            outcome.unmatched_sender = outside[0]
            outcome.detail = f"no record for {', '.join(dict.fromkeys(outside))}"
        else:
            outcome.status = "ignored"
            outcome.detail = "; ".join(dict.fromkeys(ignored)) or "the message has no addresses"
        return outcome

    def _contacts(self, conn: Connection, emails: set[str]) -> dict[str, ContactHit]:
        found: dict[str, ContactHit] = {}
        wanted = list(emails)
        for start in range(0, len(wanted), 900):
            rows = conn.execute(
                select(
                    ContactEmail.email, Contact.id, Contact.name, Contact.company_id, Company.name
                )
                .join(Contact, Contact.id == ContactEmail.contact_id)
                .outerjoin(Company, Company.id == Contact.company_id)
                .where(
                    ContactEmail.workspace_id == self.workspace_id,
                    ContactEmail.email.in_(wanted[start : start + 900]),
                )
            )
            for email, cid, name, company_id, company_name in rows:
                found[email] = (cid, name or email, company_id, company_name)
        return found

    def _companies(self, conn: Connection, domains: set[str]) -> dict[str, tuple[int, str]]:
        found: dict[str, tuple[int, str]] = {}
        wanted = list(domains)
        for start in range(0, len(wanted), 900):
            rows = conn.execute(
                select(CompanyDomain.domain, Company.id, Company.name)
                .join(Company, Company.id == CompanyDomain.company_id)
                .where(
                    CompanyDomain.workspace_id == self.workspace_id,
                    CompanyDomain.domain.in_(wanted[start : start + 900]),
                )
            )
            for domain, cid, name in rows:
                found[domain] = (cid, name)
        return found

    def _deals(
        self, conn: Connection, contact_ids: set[int], company_ids: set[int]
    ) -> tuple[dict[int, list[tuple[int, str]]], dict[int, list[tuple[int, str]]]]:
        by_contact: dict[int, list[tuple[int, str]]] = defaultdict(list)
        by_company: dict[int, list[tuple[int, str]]] = defaultdict(list)
        if contact_ids:
            for contact_id, deal_id, title in conn.execute(
                select(DealContact.contact_id, Deal.id, Deal.title)
                .join(Deal, Deal.id == DealContact.deal_id)
                .where(
                    Deal.workspace_id == self.workspace_id,
                    Deal.is_open.is_(True),
                    DealContact.contact_id.in_(list(contact_ids)),
                )
            ):
                by_contact[contact_id].append((deal_id, title))
        if company_ids:
            for company_id, deal_id, title in conn.execute(
                select(Deal.company_id, Deal.id, Deal.title).where(
                    Deal.workspace_id == self.workspace_id,
                    Deal.is_open.is_(True),
                    Deal.company_id.in_(list(company_ids)),
                )
            ):
                if company_id is not None:
                    by_company[company_id].append((deal_id, title))
        return by_contact, by_company
