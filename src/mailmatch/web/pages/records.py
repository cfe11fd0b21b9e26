"""Pages: contacts, companies and deals (lists, new-record forms, detail with the timeline of
matched mail) and the unmatched queue with its create-contact and ignore actions.

Every write goes through ``RecordService``, which re-matches only the messages the change
affects, so a new contact's mail is on its page as soon as the form returns.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from mailmatch.contacts.queries import RecordQueries, timeline_by_address
from mailmatch.contacts.rows import Detail, Listing
from mailmatch.contacts.rules import RuleService
from mailmatch.contacts.service import Change, RecordService
from mailmatch.errors import InvalidInput, MailmatchError
from mailmatch.imports.browse import MessageBrowser
from mailmatch.matching.addresses import is_freemail
from mailmatch.matching.service import MatchService
from mailmatch.web.pages import contacts_upload, record_edits
from mailmatch.web.pages.common import path_id
from mailmatch.web.pages.record_forms import parse_amount, split_list
from mailmatch.web.security import FormUser, PageUser, Principal, State
from mailmatch.web.templating import render

router = APIRouter()
# First: /contacts/import must be found before /contacts/{contact_id} takes "import" as an id.
router.include_router(contacts_upload.router)

PAGE_SIZE = 50
QUEUE_SIZE = 25  # senders per page: a page of 100 was 8,700 px tall


def _offset(request: Request) -> int:
    raw = request.query_params.get("offset", "0")
    return min(int(raw), 2**31) if raw.isdigit() else 0


def queries(state: Any, principal: Principal) -> RecordQueries:
    return RecordQueries(state.db, workspace_id=principal.workspace_id)


def records(state: Any, principal: Principal) -> RecordService:
    return RecordService(state.db, workspace_id=principal.workspace_id)


def _list_page(
    request: Request,
    state: Any,
    principal: Principal,
    kind: str,
    *,
    form: dict[str, str] | None = None,
    error: MailmatchError | None = None,
) -> Response:
    q = (request.query_params.get("q") or "").strip()[:200]
    reader = queries(state, principal)
    lister = {"contacts": reader.contacts, "companies": reader.companies, "deals": reader.deals}
    listing = lister[kind](q or None, limit=PAGE_SIZE, offset=_offset(request))
    n = request.query_params.get("n", "")
    context = {
        "q": q,
        "listing": listing,
        "company_names": reader.company_names(),
        "form": form or {},
        "error": error,
        "removed": request.query_params.get("removed", "")[:300],
        "removed_count": n if n.isdigit() else "",
        **contacts_upload.upload_context(),
    }
    return render(request, f"{kind}.html", context, nav=kind, status_code=422 if error else 200)


def _create(
    request: Request,
    state: Any,
    principal: Principal,
    kind: str,
    form: dict[str, str],
    add: Callable[[RecordService], Change],
) -> Response:
    """Run ``add`` (which may refuse with InvalidInput), then go to the new record's page; on
    an error, the list again with the form as it was typed and the reason."""
    try:
        change = add(records(state, principal))
    except MailmatchError as exc:
        return _list_page(request, state, principal, kind, form=form, error=exc)
    record_id = int(change.record["id"])
    return RedirectResponse(f"/{kind}/{record_id}?matched={change.rematched}", status_code=303)


def _detail_page(
    request: Request, state: Any, principal: Principal, kind: str, record_id: int
) -> Response:
    reader = queries(state, principal)
    shows: dict[str, tuple[str, Callable[[int], Detail[Any]]]] = {
        "contacts": ("contact", reader.contact),
        "companies": ("company", reader.company),
        "deals": ("deal", reader.deal),
    }
    one, show = shows[kind]
    d = show(path_id(record_id, one))
    context = {
        "d": d,
        "matched": request.query_params.get("matched"),
        # a contact's mail, the reason said once per address rather than on every message
        "by_address": timeline_by_address(d.timeline) if kind == "contacts" else None,
    }
    return render(request, f"{kind}_detail.html", context, nav=kind)


# -- contacts ---------------------------------------------------------------------------------


@router.get("/contacts")
def contacts(request: Request, principal: PageUser, state: State) -> Response:
    return _list_page(request, state, principal, "contacts")


@router.post("/contacts")
def create_contact(
    request: Request,
    principal: FormUser,
    state: State,
    emails: Annotated[str, Form(max_length=5000)],
    name: Annotated[str, Form(max_length=300)] = "",
    company: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    def add(service: RecordService) -> Change:
        addresses = split_list(emails)
        if not addresses:
            raise InvalidInput("give at least one email address")
        return service.add_contact(
            addresses[0], name.strip() or None, company.strip() or None, more_emails=addresses[1:]
        )

    form = {"emails": emails, "name": name, "company": company}
    return _create(request, state, principal, "contacts", form, add)


@router.get("/contacts/{contact_id}")
def contact(request: Request, contact_id: int, principal: PageUser, state: State) -> Response:
    return _detail_page(request, state, principal, "contacts", contact_id)


# -- companies --------------------------------------------------------------------------------


@router.get("/companies")
def companies(request: Request, principal: PageUser, state: State) -> Response:
    return _list_page(request, state, principal, "companies")


@router.post("/companies")
def create_company(
    request: Request,
    principal: FormUser,
    state: State,
    name: Annotated[str, Form(max_length=300)],
    domains: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    def add(service: RecordService) -> Change:
        if not name.strip():
            raise InvalidInput("a company needs a name")
        return service.add_company(name.strip(), split_list(domains))

    form = {"name": name, "domains": domains}
    return _create(request, state, principal, "companies", form, add)


@router.get("/companies/{company_id}")
def company(request: Request, company_id: int, principal: PageUser, state: State) -> Response:
    return _detail_page(request, state, principal, "companies", company_id)


# -- deals ------------------------------------------------------------------------------------


@router.get("/deals")
def deals(request: Request, principal: PageUser, state: State) -> Response:
    return _list_page(request, state, principal, "deals")


@router.post("/deals")
def create_deal(
    request: Request,
    principal: FormUser,
    state: State,
    title: Annotated[str, Form(max_length=300)],
    stage: Annotated[str, Form(max_length=100)] = "open",
    amount: Annotated[str, Form(max_length=40)] = "",
    company: Annotated[str, Form(max_length=300)] = "",
    contacts: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    def add(service: RecordService) -> Change:
        if not title.strip():
            raise InvalidInput("a deal needs a title")
        return service.add_deal(
            title.strip(),
            company=company.strip() or None,
            contacts=split_list(contacts),
            stage=stage.strip() or "open",
            amount=parse_amount(amount),
        )

    form = {
        "title": title,
        "stage": stage,
        "amount": amount,
        "company": company,
        "contacts": contacts,
    }
    return _create(request, state, principal, "deals", form, add)


@router.get("/deals/{deal_id}")
def deal(request: Request, deal_id: int, principal: PageUser, state: State) -> Response:
    return _detail_page(request, state, principal, "deals", deal_id)


# -- the unmatched queue ----------------------------------------------------------------------


def _queue(
    request: Request,
    state: Any,
    principal: Principal,
    *,
    done: dict[str, Any] | None = None,
    error: MailmatchError | None = None,
) -> Response:
    matches = MatchService(state.db, workspace_id=principal.workspace_id)
    total = matches.unmatched_senders()
    offset = _offset(request)
    if offset >= total > 0:  # the last page emptied by the action just taken: show the one before
        offset = max(0, (total - 1) // QUEUE_SIZE * QUEUE_SIZE)
    senders = matches.unmatched(QUEUE_SIZE, offset)
    browser = MessageBrowser(state.db, workspace_id=principal.workspace_id)
    subjects = browser.subjects(s["example_message"] for s in senders if s["example_message"])
    for s in senders:
        s["subject"] = subjects.get(s["example_message"] or 0, "")
        s["domain"] = (s["sender"] or "").rpartition("@")[2]
        s["freemail"] = is_freemail(s["domain"]) if s["domain"] else True
    context = {
        "senders": senders,
        "company_names": queries(state, principal).company_names(),
        "done": done,
        "error": error,
        "limit": QUEUE_SIZE,
        "listing": Listing(senders, total, offset, QUEUE_SIZE),
        "here": f"?offset={offset}" if offset else "",
    }
    return render(
        request, "unmatched.html", context, nav="unmatched", status_code=422 if error else 200
    )


@router.get("/unmatched")
def unmatched(request: Request, principal: PageUser, state: State) -> Response:
    done = None
    if request.query_params.get("done") in ("contact", "address", "domain"):
        done = {
            "action": request.query_params["done"],
            "who": request.query_params.get("who", "")[:320],
            "count": count if (count := request.query_params.get("n", "")).isdigit() else "",
        }
    return _queue(request, state, principal, done=done)


def _after_action(
    request: Request, state: Any, principal: Principal, done: dict[str, Any]
) -> Response:
    """htmx swaps the re-rendered queue in place; a plain form post gets a redirect."""
    if request.headers.get("HX-Request") == "true":
        return _queue(request, state, principal, done=done)
    query = urlencode(
        {"done": done["action"], "who": done["who"], "n": done["count"]}
        | ({"offset": offset} if (offset := _offset(request)) else {})
    )
    return RedirectResponse(f"/unmatched?{query}", status_code=303)


@router.post("/unmatched/contact")
def unmatched_contact(
    request: Request,
    principal: FormUser,
    state: State,
    email: Annotated[str, Form(max_length=320)],
    name: Annotated[str, Form(max_length=300)] = "",
    company: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    try:
        change = records(state, principal).add_contact(
            email, name.strip() or None, company.strip() or None
        )
    except MailmatchError as exc:
        return _queue(request, state, principal, error=exc)
    done = {
        "action": "contact",
        "who": email.strip().lower(),
        "count": change.rematched,
        "id": change.record["id"],
    }
    return _after_action(request, state, principal, done)


@router.post("/unmatched/ignore")
def unmatched_ignore(
    request: Request,
    principal: FormUser,
    state: State,
    email: Annotated[str, Form(max_length=320)],
    scope: Annotated[str, Form(max_length=10)] = "address",
) -> Response:
    rules = RuleService(state.db, workspace_id=principal.workspace_id)
    try:
        address = email.strip().lower()
        if scope == "domain":
            domain = address.rpartition("@")[2]
            if is_freemail(domain):
                raise InvalidInput(
                    f"{domain} is a free-mail domain: ignoring it would hide everyone using it",
                    advice=["ignore this address only"],
                )
            change = rules.add_rule("domain", domain)
            who = domain
        else:
            change = rules.add_rule("address", address)
            who = address
    except MailmatchError as exc:
        return _queue(request, state, principal, error=exc)
    done = {
        "action": "domain" if scope == "domain" else "address",
        "who": who,
        "count": change.rematched,
    }
    return _after_action(request, state, principal, done)


router.include_router(record_edits.router)  # edit and delete pages of each kind
