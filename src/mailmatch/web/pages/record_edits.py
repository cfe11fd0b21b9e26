"""Pages: edit a contact, company or deal, and delete one after a confirmation page.

Saving goes through ``RecordService``, which re-matches only the mail the change concerns; the
record's page then says how many messages that was. A form that is refused comes back as typed,
with the reason. Deleting asks first (a GET page with a POST button carrying the CSRF token),
then returns to the list, which names what was deleted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from mailmatch.contacts.queries import RecordQueries
from mailmatch.contacts.service import Change, RecordService
from mailmatch.errors import MailmatchError
from mailmatch.web.pages.common import path_id
from mailmatch.web.pages.record_forms import parse_amount, split_list
from mailmatch.web.security import FormUser, PageUser, Principal, State
from mailmatch.web.templating import render

router = APIRouter()

Text = Annotated[str, Form(max_length=300)]
Many = Annotated[str, Form(max_length=5000)]

# kind -> (what one is called, what deleting it does to the rest)
KINDS = {
    "contacts": (
        "contact",
        "Its addresses and its place on deals go with it. Its mail stays and is matched "
        "again: to its company by domain, or back to the unmatched queue.",
    ),
    "companies": (
        "company",
        "Its contacts and deals stay, without a company. Its mail stays and is matched again: "
        "to its contacts, or back to the unmatched queue.",
    ),
    "deals": (
        "deal",
        "Its contacts and company stay, and so does their mail; it is only no longer "
        "linked to this deal.",
    ),
}


def _reader(state: Any, principal: Principal) -> RecordQueries:
    return RecordQueries(state.db, workspace_id=principal.workspace_id)


def _writer(state: Any, principal: Principal) -> RecordService:
    return RecordService(state.db, workspace_id=principal.workspace_id)


def _detail(state: Any, principal: Principal, kind: str, record_id: int) -> Any:
    reader = _reader(state, principal)
    show = {"contacts": reader.contact, "companies": reader.company, "deals": reader.deal}[kind]
    return show(path_id(record_id, KINDS[kind][0]))


def _amount_text(amount: float | None) -> str:
    if amount is None:
        return ""
    return str(int(amount)) if amount == int(amount) else str(amount)


def _form_of(kind: str, d: Any) -> dict[str, str]:
    """The edit form filled with the record as it is."""
    r = d.record
    if kind == "contacts":
        return {
            "name": r.name,
            "emails": "\n".join(r.emails),
            "company": r.company.name if r.company else "",
            "title": r.title or "",
        }
    if kind == "companies":
        return {"name": r.name, "domains": ", ".join(r.domains)}
    return {
        "title": r.title,
        "stage": r.stage,
        "amount": _amount_text(r.amount),
        "company": r.company.name if r.company else "",
        "contacts": ", ".join(c.emails[0] for c in d.contacts if c.emails),
        "is_open": "1" if r.is_open else "",
    }


def _edit_page(
    request: Request,
    state: Any,
    principal: Principal,
    kind: str,
    record_id: int,
    *,
    form: dict[str, str] | None = None,
    error: MailmatchError | None = None,
) -> Response:
    d = _detail(state, principal, kind, record_id)
    context = {
        "d": d,
        "form": form if form is not None else _form_of(kind, d),
        "company_names": _reader(state, principal).company_names(),
        "error": error,
        "editing": True,
    }
    status = 422 if error else 200
    return render(request, f"{kind}_edit.html", context, nav=kind, status_code=status)


def _save(
    request: Request,
    state: Any,
    principal: Principal,
    kind: str,
    record_id: int,
    form: dict[str, str],
    edit: Callable[[RecordService], Change],
) -> Response:
    path_id(record_id, KINDS[kind][0])
    try:
        change = edit(_writer(state, principal))
    except MailmatchError as exc:
        return _edit_page(request, state, principal, kind, record_id, form=form, error=exc)
    return RedirectResponse(f"/{kind}/{record_id}?matched={change.rematched}", status_code=303)


@router.post("/contacts/{record_id}/edit")
def save_contact(
    request: Request,
    record_id: int,
    principal: FormUser,
    state: State,
    emails: Many,
    name: Text = "",
    company: Text = "",
    title: Text = "",
) -> Response:
    form = {"name": name, "emails": emails, "company": company, "title": title}
    return _save(
        request,
        state,
        principal,
        "contacts",
        record_id,
        form,
        lambda s: s.edit_contact(
            record_id,
            name=name.strip(),
            emails=split_list(emails),
            company=company.strip() or None,
            title=title.strip() or None,
        ),
    )


@router.post("/companies/{record_id}/edit")
def save_company(
    request: Request,
    record_id: int,
    principal: FormUser,
    state: State,
    name: Text,
    domains: Many = "",
) -> Response:
    form = {"name": name, "domains": domains}
    return _save(
        request,
        state,
        principal,
        "companies",
        record_id,
        form,
        lambda s: s.edit_company(record_id, name=name, domains=split_list(domains)),
    )


@router.post("/deals/{record_id}/edit")
def save_deal(
    request: Request,
    record_id: int,
    principal: FormUser,
    state: State,
    title: Text,
    stage: Annotated[str, Form(max_length=100)] = "open",
    amount: Annotated[str, Form(max_length=40)] = "",
    company: Text = "",
    contacts: Many = "",
    is_open: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    form = {
        "title": title,
        "stage": stage,
        "amount": amount,
        "company": company,
        "contacts": contacts,
        "is_open": is_open,
    }
    return _save(
        request,
        state,
        principal,
        "deals",
        record_id,
        form,
        lambda s: s.edit_deal(
            record_id,
            title=title,
            stage=stage,
            amount=parse_amount(amount),
            is_open=bool(is_open),
            company=company.strip() or None,
            contacts=split_list(contacts),
        ),
    )


# -- the same pages for each kind ---------------------------------------------------------------


def _edit_form(kind: str) -> Callable[..., Response]:
    def page(request: Request, record_id: int, principal: PageUser, state: State) -> Response:
        return _edit_page(request, state, principal, kind, record_id)

    return page


def _confirm_delete(kind: str) -> Callable[..., Response]:
    def page(request: Request, record_id: int, principal: PageUser, state: State) -> Response:
        d = _detail(state, principal, kind, record_id)
        one, consequence = KINDS[kind]
        context = {
            "d": d,
            "kind": kind,
            "one": one,
            "name": _name(d.record),
            "consequence": consequence,
        }
        return render(request, "_record_delete.html", context, nav=kind)

    return page


def _name(record: Any) -> str:
    """What to call a contact, company or deal row."""
    return str(getattr(record, "display", None) or getattr(record, "name", None) or record.title)


def _delete(kind: str) -> Callable[..., Response]:
    def action(record_id: int, principal: FormUser, state: State) -> Response:
        service = _writer(state, principal)
        remove = {
            "contacts": service.remove_contact,
            "companies": service.remove_company,
            "deals": service.remove_deal,
        }[kind]
        change = remove(path_id(record_id, KINDS[kind][0]))
        record = change.record
        name = record.get("name") or record.get("title") or ", ".join(record.get("emails", []))
        query = urlencode({"removed": str(name)[:300], "n": change.rematched})
        return RedirectResponse(f"/{kind}?{query}", status_code=303)

    return action


for _kind in KINDS:
    router.add_api_route(f"/{_kind}/{{record_id}}/edit", _edit_form(_kind), methods=["GET"])
    router.add_api_route(f"/{_kind}/{{record_id}}/delete", _confirm_delete(_kind), methods=["GET"])
    router.add_api_route(f"/{_kind}/{{record_id}}/delete", _delete(_kind), methods=["POST"])
