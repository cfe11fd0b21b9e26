"""What every service that changes records or rules shares: one workspace, its ``MatchService``,
the validation of addresses and domains, and the ``Change`` a write hands back.

Kept apart from :mod:`.service` so that adding (:mod:`.service`), editing and removing
(:mod:`.edits`) and rules (:mod:`.rules`) build on the same ground without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailmatch.errors import InvalidInput, NotFound
from mailmatch.matching.addresses import is_freemail
from mailmatch.matching.service import MatchService
from mailmatch.pipeline.runner import Pipeline
from mailmatch.pipeline.steps import MatchStep
from mailmatch.store.db import Database
from mailmatch.store.models import DEFAULT_WORKSPACE_ID
from mailmatch.store.records import Company, CompanyDomain, Contact, ContactEmail


@dataclass
class Change:
    """What a change did, including how many messages it re-matched (and only those)."""

    record: dict[str, Any]
    rematched: int = 0

    def to_json(self) -> dict[str, Any]:
        return {**self.record, "rematched": self.rematched}


def valid_email(email: str) -> str:
    email = email.strip().lower()
    local, at, domain = email.rpartition("@")
    if not (local and at and "." in domain):
        raise InvalidInput(f"not an email address: {email!r}")
    return email


def clean_domain(domain: str) -> str:
    domain = domain.strip().lower().removeprefix("http://").removeprefix("https://")
    domain = domain.removeprefix("www.").split("/")[0]
    if "." not in domain or "@" in domain:
        raise InvalidInput(f"not a domain: {domain!r}")
    return domain


def company_domains(domains: list[str]) -> list[str]:
    """The domains cleaned, without repeats; a free-mail domain is refused: matching a company
    by it would claim everyone who uses it."""
    cleaned = list(dict.fromkeys(clean_domain(d) for d in domains))
    free = [d for d in cleaned if is_freemail(d)]
    if free:
        raise InvalidInput(
            f"{', '.join(free)} is a free-mail domain: matching a company by it would "
            "claim everyone who uses it",
            advice=["add the people as contacts of the company instead"],
        )
    return cleaned


class Rematching:
    """What the services that change matching share: one workspace, and the ``MatchService``
    that re-matches its mail (``RecordService`` in contacts/service.py, ``RuleService`` in
    contacts/rules.py)."""

    def __init__(
        self,
        db: Database,
        matches: MatchService | None = None,
        *,
        workspace_id: int = DEFAULT_WORKSPACE_ID,
    ) -> None:
        if matches is not None and matches.workspace_id != workspace_id:
            raise ValueError("the MatchService belongs to another workspace")
        self.db = db
        self.workspace_id = workspace_id
        self.matches = matches or MatchService(db, workspace_id=workspace_id)
        self.pipeline = Pipeline(db, workspace_id, matches=self.matches)

    def _rematch(self, pks: set[int]) -> int:
        """Re-match these messages (found through the address index or their links), and run
        the pipeline's steps after matching on them (webhooks announce the new outcomes)."""
        self.pipeline.rerun(pks, from_step=MatchStep.name)
        return len(pks)


class RecordBase(Rematching):
    """Rows of the workspace's records, built and found the same way by every writer."""

    def _domain(self, domain: str, company_id: int) -> CompanyDomain:
        return CompanyDomain(workspace_id=self.workspace_id, domain=domain, company_id=company_id)

    def _email(self, email: str, contact_id: int) -> ContactEmail:
        return ContactEmail(workspace_id=self.workspace_id, email=email, contact_id=contact_id)

    def _company(self, session: Session, name: str, *, create: bool = True) -> Company:
        company = session.scalar(
            select(Company).where(Company.workspace_id == self.workspace_id, Company.name == name)
        )
        if company is None:
            if not create:
                raise NotFound(f"no company named {name!r}")
            company = Company(workspace_id=self.workspace_id, name=name)
            session.add(company)
            session.flush()
        return company

    def _contact_json(self, session: Session, contact: Contact) -> dict[str, Any]:
        company = session.get(Company, contact.company_id) if contact.company_id else None
        emails = session.scalars(
            select(ContactEmail.email).where(ContactEmail.contact_id == contact.id)
        ).all()
        return {
            "id": contact.id,
            "name": contact.name,
            "emails": sorted(emails),
            "company": company.name if company else None,
            "title": contact.title,
            "owner": contact.owner,
            "tags": contact.tags or [],
            "custom": contact.custom or {},
        }

    def _contact_of(self, session: Session, email: str) -> int:
        """The id of the workspace's contact with this address."""
        row = session.get(ContactEmail, (self.workspace_id, self.matches.normalizer(email)))
        if row is None:
            raise NotFound(f"no contact with {email}", advice=["add it first"])
        return row.contact_id
