"""What ``RecordQueries`` answers: rows of contacts, companies and deals as the pages and the
API show them, a page of a list, and a record with its related records and matched mail."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Ref:
    """A record named and linked from another record's page."""

    id: int
    name: str


@dataclass(frozen=True)
class TimelineItem:
    message_id: int
    date: datetime | None
    from_email: str | None
    from_name: str | None
    subject: str
    reason: str


@dataclass
class ContactRow:
    id: int
    name: str
    emails: list[str]
    company: Ref | None
    title: str | None
    messages: int = 0
    last_date: datetime | None = None

    @property
    def display(self) -> str:
        """What to call the contact: the name, else the first address."""
        return self.name or (self.emails[0] if self.emails else f"contact {self.id}")


@dataclass
class CompanyRow:
    id: int
    name: str
    domains: list[str]
    contacts: int = 0
    messages: int = 0
    last_date: datetime | None = None


@dataclass
class DealRow:
    id: int
    title: str
    stage: str
    amount: float | None
    is_open: bool
    company: Ref | None
    messages: int = 0
    last_date: datetime | None = None


@dataclass
class Listing(Generic[T]):
    rows: list[T]
    total: int
    offset: int
    limit: int

    @property
    def has_more(self) -> bool:
        return self.offset + len(self.rows) < self.total


@dataclass
class Detail(Generic[T]):
    record: T
    contacts: list[ContactRow] = field(default_factory=list)
    deals: list[DealRow] = field(default_factory=list)
    timeline: list[TimelineItem] = field(default_factory=list)


@dataclass(frozen=True)
class AddressMail:
    """One message of a contact's timeline, with the header its address was in ("Cc")."""

    role: str
    item: TimelineItem


@dataclass
class AddressTimeline:
    """A contact's mail through one of its addresses: the reason said once, then the mail."""

    address: str
    why: str  # "belongs to contact Jane Doe"
    mail: list[AddressMail] = field(default_factory=list)
