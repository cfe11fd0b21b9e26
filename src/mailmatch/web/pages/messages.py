"""Pages: the message list (search and filters) and one message with its matches and reasons.

The body shown is the plain-text part only, escaped by the template: a mail's HTML is never
rendered, so a message can neither run script nor load tracking pixels in the dashboard. For
the same reason an attachment is only ever a download (``Content-Disposition: attachment``,
``nosniff``, a sandboxing CSP): an HTML or SVG file from a stranger must not run as this site.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from mailmatch.errors import InvalidInput
from mailmatch.imports.attachments import AttachmentFile, AttachmentService, ascii_filename
from mailmatch.imports.browse import STATUSES, MessageBrowser, MessageFilter, Status
from mailmatch.imports.messages import MessageService
from mailmatch.matching.explain import summarize
from mailmatch.store.messages import MessageStore
from mailmatch.web.pages.common import MAX_ID, path_id
from mailmatch.web.security import PageUser, State
from mailmatch.web.templating import render

router = APIRouter()

PAGE_SIZE = 50
THREAD_SHOWN = 50


def _day(value: str | None, what: str) -> date | None:
    if not value or not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(
            f"{what}: not a date: {value[:40]!r}", advice=["use YYYY-MM-DD"]
        ) from None


def _status(value: str | None) -> Status | None:
    for status in STATUSES:
        if value == status:
            return status
    return None


def _account(value: str | None) -> int | None:
    if value and value.isdigit() and 0 < int(value) < MAX_ID:
        return int(value)
    return None


def page_filter(params: dict[str, str]) -> MessageFilter:
    """The list's filters from the query string; empty form fields mean "any"."""
    attachments = {"yes": True, "no": False}.get(params.get("attachments", ""))
    return MessageFilter(
        q=(params.get("q") or "").strip()[:500] or None,
        status=_status(params.get("status")),
        sender=(params.get("sender") or "").strip()[:320] or None,
        since=_day(params.get("since"), "from date"),
        until=_day(params.get("until"), "to date"),
        attachments=attachments,
        account_id=_account(params.get("account")),
    )


def store_messages(state: Any, workspace_id: int) -> MessageService:
    return MessageService(MessageStore(state.db, workspace_id=workspace_id))


@router.get("/messages")
def messages(request: Request, principal: PageUser, state: State) -> Response:
    params = dict(request.query_params)
    f = page_filter(params)
    browser = MessageBrowser(state.db, workspace_id=principal.workspace_id)
    cursor = (params.get("cursor") or "")[:100] or None
    page = browser.page(f, limit=PAGE_SIZE, cursor=cursor)
    keep = {k: v for k, v in params.items() if k != "cursor" and v}
    context = {
        "filter": f,
        "params": keep,
        "page": page,
        "first_page": cursor is None,
        "accounts": browser.accounts(),
        "advanced": any(
            keep.get(k) for k in ("sender", "since", "until", "attachments", "account")
        ),
    }
    return render(request, "messages.html", context, nav="messages")


@router.get("/messages/{message_id}")
def message(request: Request, message_id: int, principal: PageUser, state: State) -> Response:
    pk = path_id(message_id, "message")
    data = store_messages(state, principal.workspace_id).show(pk)
    browser = MessageBrowser(state.db, workspace_id=principal.workspace_id)
    status, detail = browser.state(pk)
    thread = [t for t in data["thread"] if t["id"] != pk]
    context = {
        "m": data,
        "status": status,
        "status_detail": detail,
        "summary": summarize(status, detail),
        "links": browser.links([pk]).get(pk, []),
        "thread": thread[-THREAD_SHOWN:],
        "thread_hidden": max(0, len(thread) - THREAD_SHOWN),
    }
    return render(request, "messages_detail.html", context, nav="messages")


@router.get("/messages/{message_id}/raw")
def message_raw(message_id: int, principal: PageUser, state: State) -> Response:
    """The exact bytes as stored, as a ``.eml`` download (never shown inline)."""
    pk = path_id(message_id, "message")
    raw = store_messages(state, principal.workspace_id).raw(pk)
    return raw_response(raw, pk)


def raw_response(raw: bytes, pk: int) -> Response:
    return Response(
        raw,
        media_type="message/rfc822",
        headers={"Content-Disposition": f'attachment; filename="message-{pk}.eml"'},
    )


@router.get("/messages/{message_id}/attachments/{attachment_id}")
def message_attachment(
    message_id: int, attachment_id: int, principal: PageUser, state: State
) -> Response:
    """One attachment as a download, whatever its size (large ones come out of the raw)."""
    pk = path_id(message_id, "message")
    number = path_id(attachment_id, "attachment")
    store = MessageStore(state.db, workspace_id=principal.workspace_id)
    return attachment_response(AttachmentService(store).get(pk, number))


def content_disposition(filename: str) -> str:
    """``attachment`` with an RFC 6266 name: a plain ASCII ``filename`` every client reads,
    and the exact name as UTF-8 in ``filename*`` when it is not plain ASCII."""
    plain = ascii_filename(filename)
    if plain == filename:
        return f'attachment; filename="{plain}"'
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(filename, safe='')}"


def attachment_response(file: AttachmentFile) -> Response:
    """Always a download, never rendered: no sniffing, and a CSP that would sandbox the file
    and forbid it everything should a browser open it anyway."""
    return Response(
        file.data,
        headers={
            "Content-Type": file.content_type,
            "Content-Disposition": content_disposition(file.filename),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "private, no-store",
        },
    )
