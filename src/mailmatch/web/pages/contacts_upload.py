"""Pages: upload a contacts file (CSV or vCard) and see what was made of it.

The upload is read by the same readers and stored by the same importer as
``mailmatch contacts import FILE`` (see :mod:`mailmatch.contacts.file_import`), and the result
page shows the report the CLI prints: the columns used and ignored, the contacts created and
updated, the rows skipped and why, and whatever else the readers report.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from mailmatch.contacts.bulk import RecordImporter
from mailmatch.contacts.file_import import ACCEPTED, import_upload
from mailmatch.errors import MailmatchError
from mailmatch.web.security import FormUser, PageUser, State
from mailmatch.web.templating import render
from mailmatch.web.uploads import MAX_UPLOAD_MB, UploadSize, uploaded_file

router = APIRouter()

SOURCES = {
    "csv:salesforce": "Salesforce CSV",
    "csv:hubspot": "HubSpot CSV",
    "csv:google": "Google Contacts CSV",
    "csv:outlook": "Outlook CSV",
    "csv": "CSV",
    "vcard": "vCard",
}
# What the result page lays out itself; any other figure of the report is listed as it is.
SHOWN = {
    "file",
    "source",
    "contacts_created",
    "contacts_updated",
    "companies",
    "rematched",
    "used_columns",
    "ignored_columns",
    "skipped",
    "fallback_lines",
}


def upload_context() -> dict[str, Any]:
    """What the upload form needs (it is on the Contacts page and on the result page)."""
    return {"accepted": ACCEPTED, "max_mb": MAX_UPLOAD_MB}


def _page(
    request: Request,
    *,
    report: dict[str, Any] | None = None,
    error: MailmatchError | None = None,
) -> Response:
    context = {
        **upload_context(),
        "report": report,
        "source": SOURCES.get(str((report or {}).get("source")), (report or {}).get("source")),
        "extra": {k: v for k, v in (report or {}).items() if k not in SHOWN},
        "error": error,
    }
    status = 422 if error else 200
    return render(request, "contacts_import.html", context, nav="contacts", status_code=status)


@router.get("/contacts/import")
def upload_form(request: Request, principal: PageUser) -> Response:
    return _page(request)


@router.post("/contacts/import")
async def upload(request: Request, size: UploadSize, principal: FormUser, state: State) -> Response:
    """``size`` is checked before ``principal`` reads the form (see web/uploads.py)."""
    try:
        filename, data = await uploaded_file(request)
        importer = RecordImporter(state.db, workspace_id=principal.workspace_id)
        report = await run_in_threadpool(import_upload, importer, filename, data)
    except MailmatchError as exc:
        return _page(request, error=exc)
    return _page(request, report=report)
