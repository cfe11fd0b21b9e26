"""REST API: list and search messages, one message with its matches, its raw bytes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from mailmatch.imports.attachments import AttachmentService
from mailmatch.imports.browse import LinkView, MessageBrowser, MessageFilter, Status
from mailmatch.store.messages import MessageStore
from mailmatch.web.pages.messages import attachment_response, raw_response, store_messages
from mailmatch.web.security import ApiUser, State

router = APIRouter(tags=["messages"])

MessageId = Annotated[int, Path(ge=1, le=2**62, description="The message's id in mailmatch.")]
BINARY = {"type": "string", "format": "binary"}
AttachmentId = Annotated[
    int, Path(ge=1, le=2**62, description="The attachment's `id` in the message's detail.")
]


class Match(BaseModel):
    record_type: str = Field(description="contact, company or deal")
    record_id: int
    name: str
    reason: str = Field(description="Why the message was linked, in words.")


class MessageSummary(BaseModel):
    id: int
    date: datetime | None
    from_email: str | None
    from_name: str | None
    subject: str
    preview: str = Field(description="The start of the text body.")
    attachments: int
    status: str | None = Field(description="matched, unmatched, ignored; null if not matched yet")
    matches: list[Match]


class MessageList(BaseModel):
    items: list[MessageSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next (older) page.")


class Person(BaseModel):
    name: str
    email: str


class Attachment(BaseModel):
    id: int = Field(description="For GET /messages/{id}/attachments/{attachment_id}")
    filename: str | None
    content_type: str
    size: int
    stored: bool = Field(
        description="False when over the size cap: the download extracts it from the raw message"
    )


class Where(BaseModel):
    account: str
    folder: str
    uid: int


class ThreadEntry(BaseModel):
    id: int
    date: str | None
    from_email: str | None
    subject: str


class MessageDetail(BaseModel):
    id: int
    date: str | None
    message_id: str | None
    subject: str
    from_email: str | None
    from_name: str | None
    size: int
    sha256: str
    addresses: dict[str, list[Person]] = Field(description="By role: from, to, cc, bcc, ...")
    in_reply_to: str | None
    references: list[str]
    body_text: str
    parse_level: str
    defects: list[str]
    attachments: list[Attachment]
    locations: list[Where]
    thread_id: int | None
    thread: list[ThreadEntry]
    status: str | None
    status_detail: str | None
    matches: list[Match]


def _matches(links: list[LinkView]) -> list[Match]:
    return [
        Match(record_type=x.record_type, record_id=x.record_id, name=x.name, reason=x.reason)
        for x in links
    ]


@router.get("/messages", response_model=MessageList)
def list_messages(
    principal: ApiUser,
    state: State,
    q: Annotated[str | None, Query(max_length=500, description="Words to search for")] = None,
    status: Status | None = None,
    sender: Annotated[str | None, Query(max_length=320, description="Address or domain")] = None,
    since: date | None = None,
    until: date | None = None,
    attachments: bool | None = None,
    account_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=100)] = None,
) -> MessageList:
    """Messages newest first, narrowed by full-text search and filters, paged by cursor."""
    f = MessageFilter(q, status, sender, since, until, attachments, account_id)
    page = MessageBrowser(state.db, workspace_id=principal.workspace_id).page(
        f, limit=limit, cursor=cursor
    )
    items = [
        MessageSummary(
            id=r.id,
            date=r.date,
            from_email=r.from_email,
            from_name=r.from_name,
            subject=r.subject,
            preview=r.preview,
            attachments=r.attachments,
            status=r.status,
            matches=_matches(r.links),
        )
        for r in page.rows
    ]
    return MessageList(items=items, next_cursor=page.next_cursor)


@router.get("/messages/{message_id}", response_model=MessageDetail)
def get_message(message_id: MessageId, principal: ApiUser, state: State) -> MessageDetail:
    data: dict[str, Any] = store_messages(state, principal.workspace_id).show(message_id)
    browser = MessageBrowser(state.db, workspace_id=principal.workspace_id)
    status, detail = browser.state(message_id)
    return MessageDetail.model_validate(
        {
            **data,
            "from_email": data["from"],
            "thread": [{**t, "from_email": t["from"]} for t in data["thread"]],
            "status": status,
            "status_detail": detail,
            "matches": _matches(browser.links([message_id]).get(message_id, [])),
        }
    )


@router.get(
    "/messages/{message_id}/raw",
    response_class=Response,
    responses={
        200: {
            "description": "The message exactly as stored.",
            "content": {"message/rfc822": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
def get_message_raw(message_id: MessageId, principal: ApiUser, state: State) -> Response:
    raw = store_messages(state, principal.workspace_id).raw(message_id)
    return raw_response(raw, message_id)


@router.get(
    "/messages/{message_id}/attachments/{attachment_id}",
    response_class=Response,
    responses={
        200: {
            "description": "The attachment's bytes, as a download (Content-Disposition: "
            "attachment), with the media type the message declared.",
            "content": {"application/octet-stream": {"schema": BINARY}},
        }
    },
)
def get_message_attachment(
    message_id: MessageId, attachment_id: AttachmentId, principal: ApiUser, state: State
) -> Response:
    store = MessageStore(state.db, workspace_id=principal.workspace_id)
    return attachment_response(AttachmentService(store).get(message_id, attachment_id))
