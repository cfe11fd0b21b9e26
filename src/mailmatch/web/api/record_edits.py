"""REST API: edit (PATCH) and remove (DELETE) contacts, companies and deals, and import a
contacts file (multipart POST). Each re-matches the mail it concerns before it returns.

A PATCH changes only the fields it names; ``null`` clears a field that may be empty (a
contact's company or title, a deal's company or amount). Lists (emails, domains, contacts)
replace the record's.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.concurrency import run_in_threadpool
from fastapi.requests import Request
from pydantic import BaseModel, ConfigDict, Field

from mailmatch.contacts.bulk import RecordImporter
from mailmatch.contacts.edits import KEEP
from mailmatch.contacts.file_import import import_upload
from mailmatch.contacts.service import Change, RecordService
from mailmatch.web.security import ApiUser, Principal, State
from mailmatch.web.uploads import MAX_UPLOAD_MB, UploadSize, upload_body, uploaded_file

router = APIRouter(tags=["records"])

RecordId = Annotated[int, Path(ge=1, le=2**62)]
Email = Annotated[str, Field(min_length=3, max_length=320)]
Name = Annotated[str, Field(min_length=1, max_length=300)]


class ContactPatch(BaseModel):
    name: str | None = Field(default=None, max_length=300)
    emails: list[Email] | None = Field(default=None, min_length=1, max_length=50)
    company: Name | None = Field(default=None, description="A company's name; null: none")
    title: str | None = Field(default=None, max_length=300)


class CompanyPatch(BaseModel):
    name: Name | None = None
    domains: list[Annotated[str, Field(min_length=3, max_length=255)]] | None = Field(
        default=None, max_length=50
    )


class DealPatch(BaseModel):
    title: Name | None = None
    stage: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    amount: float | None = Field(default=None, ge=-1e15, le=1e15, allow_inf_nan=False)
    is_open: bool | None = Field(default=None, description="A closed deal links no mail")
    company: Name | None = Field(default=None, description="An existing company; null: none")
    contacts: list[Email] | None = Field(default=None, max_length=50)


class Changed(BaseModel):
    id: int
    rematched: int = Field(description="Messages re-matched by this change")


class SkippedItem(BaseModel):
    item: str = Field(description='What was left out: "row 7", "card 3", "input"')
    reason: str


class ImportReport(BaseModel):
    """What ``mailmatch contacts import --json`` prints, for the uploaded file."""

    model_config = ConfigDict(extra="allow")  # any further figure the readers report

    file: str
    source: str = Field(description='"csv:hubspot", "csv:google", "vcard", ...')
    contacts_created: int
    contacts_updated: int
    companies: int
    rematched: int
    used_columns: dict[str, str] = Field(description="Column -> what it was read as")
    ignored_columns: list[str]
    skipped: list[SkippedItem]


def _writer(state: State, principal: Principal) -> RecordService:
    return RecordService(state.db, workspace_id=principal.workspace_id)


def _given(body: BaseModel, name: str) -> Any:
    """The field's value if the PATCH named it, else KEEP (leave it as it is)."""
    return getattr(body, name) if name in body.model_fields_set else KEEP


def _changed(change: Change) -> Changed:
    return Changed(id=int(change.record["id"]), rematched=change.rematched)


def _set(body: BaseModel, name: str) -> Any:
    """A field that cannot be cleared: null is the same as leaving it out."""
    value = _given(body, name)
    return KEEP if value is None else value


# -- import -----------------------------------------------------------------------------------


@router.post(
    "/contacts/import",
    response_model=ImportReport,
    openapi_extra=upload_body(f"A .csv or .vcf export, up to {MAX_UPLOAD_MB} MB"),
    responses={413: {"description": f"The upload is over {MAX_UPLOAD_MB} MB"}},
)
async def import_contacts(
    request: Request, principal: ApiUser, size: UploadSize, state: State
) -> dict[str, Any]:
    """Import contacts (and companies) from an uploaded CSV or vCard file, as
    ``mailmatch contacts import FILE`` does: the report says which columns were used."""
    filename, data = await uploaded_file(request)
    importer = RecordImporter(state.db, workspace_id=principal.workspace_id)
    return await run_in_threadpool(import_upload, importer, filename, data)


# -- contacts ---------------------------------------------------------------------------------


@router.patch("/contacts/{contact_id}", response_model=Changed)
def edit_contact(
    contact_id: RecordId, body: ContactPatch, principal: ApiUser, state: State
) -> Changed:
    """Change a contact; the mail of addresses it gains or loses moves with them."""
    change = _writer(state, principal).edit_contact(
        contact_id,
        name=_set(body, "name"),
        emails=_set(body, "emails"),
        company=_given(body, "company"),
        title=_given(body, "title"),
    )
    return _changed(change)


@router.delete("/contacts/{contact_id}", response_model=Changed)
def remove_contact(contact_id: RecordId, principal: ApiUser, state: State) -> Changed:
    """Remove a contact; its mail re-matches (its company, or the unmatched queue)."""
    return _changed(_writer(state, principal).remove_contact(contact_id))


# -- companies --------------------------------------------------------------------------------


@router.patch("/companies/{company_id}", response_model=Changed)
def edit_company(
    company_id: RecordId, body: CompanyPatch, principal: ApiUser, state: State
) -> Changed:
    """Rename a company or replace its domains; the mail of those domains moves."""
    change = _writer(state, principal).edit_company(
        company_id, name=_set(body, "name"), domains=_set(body, "domains")
    )
    return _changed(change)


@router.delete("/companies/{company_id}", response_model=Changed)
def remove_company(company_id: RecordId, principal: ApiUser, state: State) -> Changed:
    """Remove a company; its contacts and deals stay, without a company."""
    return _changed(_writer(state, principal).remove_company(company_id))


# -- deals ------------------------------------------------------------------------------------


@router.patch("/deals/{deal_id}", response_model=Changed)
def edit_deal(deal_id: RecordId, body: DealPatch, principal: ApiUser, state: State) -> Changed:
    """Change a deal; contacts are given by email and must exist, like the company."""
    change = _writer(state, principal).edit_deal(
        deal_id,
        title=_set(body, "title"),
        stage=_set(body, "stage"),
        amount=_given(body, "amount"),
        is_open=_set(body, "is_open"),
        company=_given(body, "company"),
        contacts=_set(body, "contacts"),
    )
    return _changed(change)


@router.delete("/deals/{deal_id}", response_model=Changed)
def remove_deal(deal_id: RecordId, principal: ApiUser, state: State) -> Changed:
    """Remove a deal; its contacts and company stay."""
    return _changed(_writer(state, principal).remove_deal(deal_id))
