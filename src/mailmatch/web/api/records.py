"""REST API: contacts, companies and deals (list, create, detail with matched mail) and the
unmatched queue. Creating a record re-matches the mail it concerns before the call returns."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, TypeVar

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field

from mailmatch.contacts.queries import RecordQueries
from mailmatch.contacts.rows import CompanyRow, ContactRow, DealRow, Detail, Listing, TimelineItem
from mailmatch.contacts.service import Change, RecordService
from mailmatch.imports.browse import MessageBrowser
from mailmatch.matching.service import MatchService
from mailmatch.web.api import record_edits
from mailmatch.web.security import ApiUser, Principal, State

router = APIRouter(tags=["records"])
router.include_router(record_edits.router)  # PATCH, DELETE and the contacts file import

RecordId = Annotated[int, Path(ge=1, le=2**62)]
Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0, le=2**31)]
Search = Annotated[str | None, Query(max_length=200, description="Part of a name, email or domain")]
Email = Annotated[str, Field(min_length=3, max_length=320)]
PageT = TypeVar("PageT", bound=BaseModel)
RowT = TypeVar("RowT")


class RecordRef(BaseModel):
    id: int
    name: str


class TimelineEntry(BaseModel):
    message_id: int
    date: datetime | None
    from_email: str | None
    from_name: str | None
    subject: str
    reason: str


class Contact(BaseModel):
    id: int
    name: str
    emails: list[str]
    company: RecordRef | None
    title: str | None
    messages: int = Field(description="Matched messages")
    last_date: datetime | None


class Company(BaseModel):
    id: int
    name: str
    domains: list[str]
    contacts: int
    messages: int
    last_date: datetime | None


class Deal(BaseModel):
    id: int
    title: str
    stage: str
    amount: float | None
    is_open: bool
    company: RecordRef | None
    messages: int
    last_date: datetime | None


class ContactList(BaseModel):
    items: list[Contact]
    total: int
    offset: int
    limit: int


class CompanyList(BaseModel):
    items: list[Company]
    total: int
    offset: int
    limit: int


class DealList(BaseModel):
    items: list[Deal]
    total: int
    offset: int
    limit: int


class ContactDetail(Contact):
    deals: list[Deal]
    timeline: list[TimelineEntry] = Field(description="Matched mail, newest first")


class CompanyDetail(Company):
    people: list[Contact]
    deals: list[Deal]
    timeline: list[TimelineEntry]


class DealDetail(Deal):
    people: list[Contact]
    timeline: list[TimelineEntry]


class NewContact(BaseModel):
    emails: list[Email] = Field(min_length=1, max_length=50)
    name: str = Field(default="", max_length=300)
    company: str | None = Field(default=None, min_length=1, max_length=300)


class NewCompany(BaseModel):
    name: str = Field(min_length=1, max_length=300)
    domains: list[Annotated[str, Field(min_length=3, max_length=255)]] = Field(
        default_factory=list, max_length=50
    )


class NewDeal(BaseModel):
    title: str = Field(min_length=1, max_length=300)
    stage: str = Field(default="open", min_length=1, max_length=100)
    amount: float | None = Field(default=None, ge=-1e15, le=1e15, allow_inf_nan=False)
    company: str | None = Field(default=None, min_length=1, max_length=300)
    contacts: list[Email] = Field(default_factory=list, max_length=50)


class Created(BaseModel):
    id: int
    rematched: int = Field(description="Messages re-matched by this change")


class UnmatchedSender(BaseModel):
    sender: str | None
    name: str
    messages: int
    last_date: str | None
    example_message: int | None
    sample_subject: str


def _ref(ref: object) -> RecordRef | None:
    return RecordRef.model_validate(ref, from_attributes=True) if ref is not None else None


def _contact(c: ContactRow) -> Contact:
    return Contact(
        id=c.id,
        name=c.name,
        emails=c.emails,
        company=_ref(c.company),
        title=c.title,
        messages=c.messages,
        last_date=c.last_date,
    )


def _company(c: CompanyRow) -> Company:
    return Company.model_validate(c, from_attributes=True)


def _deal(d: DealRow) -> Deal:
    return Deal(
        id=d.id,
        title=d.title,
        stage=d.stage,
        amount=d.amount,
        is_open=d.is_open,
        company=_ref(d.company),
        messages=d.messages,
        last_date=d.last_date,
    )


def _timeline(items: list[TimelineItem]) -> list[TimelineEntry]:
    return [TimelineEntry.model_validate(t, from_attributes=True) for t in items]


def _reader(state: State, principal: Principal) -> RecordQueries:
    return RecordQueries(state.db, workspace_id=principal.workspace_id)


def _writer(state: State, principal: Principal) -> RecordService:
    return RecordService(state.db, workspace_id=principal.workspace_id)


def _page(model: type[PageT], listing: Listing[RowT], item: Callable[[RowT], object]) -> PageT:
    """One page of a listing as the API model ``model`` (ContactList, CompanyList, DealList)."""
    return model.model_validate(
        {
            "items": [item(row) for row in listing.rows],
            "total": listing.total,
            "offset": listing.offset,
            "limit": listing.limit,
        }
    )


def _created(change: Change) -> Created:
    return Created(id=int(change.record["id"]), rematched=change.rematched)


# -- contacts ---------------------------------------------------------------------------------


@router.get("/contacts", response_model=ContactList)
def list_contacts(
    principal: ApiUser, state: State, q: Search = None, limit: Limit = 50, offset: Offset = 0
) -> ContactList:
    listing = _reader(state, principal).contacts(q, limit=limit, offset=offset)
    return _page(ContactList, listing, _contact)


@router.post("/contacts", response_model=Created, status_code=201)
def create_contact(body: NewContact, principal: ApiUser, state: State) -> Created:
    """Add a contact (or add addresses to the contact that has one of them already)."""
    change = _writer(state, principal).add_contact(
        body.emails[0], body.name.strip() or None, body.company, more_emails=body.emails[1:]
    )
    return _created(change)


@router.get("/contacts/{contact_id}", response_model=ContactDetail)
def get_contact(contact_id: RecordId, principal: ApiUser, state: State) -> ContactDetail:
    d: Detail[ContactRow] = _reader(state, principal).contact(contact_id)
    return ContactDetail(
        **_contact(d.record).model_dump(),
        deals=[_deal(x) for x in d.deals],
        timeline=_timeline(d.timeline),
    )


# -- companies --------------------------------------------------------------------------------


@router.get("/companies", response_model=CompanyList)
def list_companies(
    principal: ApiUser, state: State, q: Search = None, limit: Limit = 50, offset: Offset = 0
) -> CompanyList:
    listing = _reader(state, principal).companies(q, limit=limit, offset=offset)
    return _page(CompanyList, listing, _company)


@router.post("/companies", response_model=Created, status_code=201)
def create_company(body: NewCompany, principal: ApiUser, state: State) -> Created:
    """Add a company with its domains (or add domains to the company of that name)."""
    change = _writer(state, principal).add_company(body.name.strip(), body.domains)
    return _created(change)


@router.get("/companies/{company_id}", response_model=CompanyDetail)
def get_company(company_id: RecordId, principal: ApiUser, state: State) -> CompanyDetail:
    d = _reader(state, principal).company(company_id)
    return CompanyDetail(
        **_company(d.record).model_dump(),
        people=[_contact(c) for c in d.contacts],
        deals=[_deal(x) for x in d.deals],
        timeline=_timeline(d.timeline),
    )


# -- deals ------------------------------------------------------------------------------------


@router.get("/deals", response_model=DealList)
def list_deals(
    principal: ApiUser, state: State, q: Search = None, limit: Limit = 50, offset: Offset = 0
) -> DealList:
    listing = _reader(state, principal).deals(q, limit=limit, offset=offset)
    return _page(DealList, listing, _deal)


@router.post("/deals", response_model=Created, status_code=201)
def create_deal(body: NewDeal, principal: ApiUser, state: State) -> Created:
    """Add a deal; its company (by name) and contacts (by email) must exist."""
    change = _writer(state, principal).add_deal(
        body.title.strip(),
        company=body.company,
        contacts=body.contacts,
        stage=body.stage,
        amount=body.amount,
    )
    return _created(change)


@router.get("/deals/{deal_id}", response_model=DealDetail)
def get_deal(deal_id: RecordId, principal: ApiUser, state: State) -> DealDetail:
    d = _reader(state, principal).deal(deal_id)
    return DealDetail(
        **_deal(d.record).model_dump(),
        people=[_contact(c) for c in d.contacts],
        timeline=_timeline(d.timeline),
    )


# -- unmatched --------------------------------------------------------------------------------


@router.get("/unmatched", response_model=list[UnmatchedSender])
def unmatched(
    principal: ApiUser,
    state: State,
    response: Response,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[UnmatchedSender]:
    """Senders whose mail matched no record, most messages first, ``limit`` from ``offset``;
    the ``X-Total-Count`` header says how many senders there are in all."""
    matches = MatchService(state.db, workspace_id=principal.workspace_id)
    response.headers["X-Total-Count"] = str(matches.unmatched_senders())
    senders = matches.unmatched(limit, offset)
    browser = MessageBrowser(state.db, workspace_id=principal.workspace_id)
    subjects = browser.subjects(s["example_message"] for s in senders if s["example_message"])
    return [
        UnmatchedSender(**s, sample_subject=subjects.get(s["example_message"] or 0, ""))
        for s in senders
    ]
