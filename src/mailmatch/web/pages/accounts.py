"""The accounts page: connected mailboxes, a live test, a new password, removal.

Included by :mod:`mailmatch.web.pages.connect` (connecting and managing accounts are one area).
Test and password changes are htmx POSTs answering fragments; removal takes a confirmation page,
because it also removes the account's imports.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from mailmatch.accounts.advice import Surface
from mailmatch.accounts.service import AccountView
from mailmatch.accounts.wizard import SOURCE_TEXT, checks_view
from mailmatch.errors import MailmatchError
from mailmatch.web.security import FormUser, PageUser, State
from mailmatch.web.templating import render

router = APIRouter()


def _last_test(view: AccountView) -> dict[str, Any] | None:
    """What the last stored test said, for the list (the full steps are in ``last_test``)."""
    if view.last_test_at is None:
        return None
    return {"ok": view.last_test_ok, "at": view.last_test_at}


@router.get("/accounts")
def accounts_page(request: Request, principal: PageUser, state: State) -> Response:
    views = state.accounts(principal.workspace_id).list()
    rows = [{"view": v, "last": _last_test(v), "dom_id": f"acct-{i}"} for i, v in enumerate(views)]
    return render(request, "accounts.html", {"rows": rows, "sources": SOURCE_TEXT}, nav="accounts")


@router.post("/accounts/{name}/test")
def test_account(request: Request, name: str, principal: FormUser, state: State) -> Response:
    service = state.accounts(principal.workspace_id)
    view = service.get(name)  # NotFound -> 404 for another workspace's account
    result = service.test(name, Surface.ACCOUNTS)
    context = {
        "ok": result.ok,
        "protocols": checks_view(result, view.provider_id),
        "warnings": [],
        "title": "Connection test",
    }
    return render(request, "_account_checks.html", context)


@router.post("/accounts/{name}/password")
async def set_password(request: Request, name: str, principal: FormUser, state: State) -> Response:
    form = await request.form()
    service = state.accounts(principal.workspace_id)
    view = service.get(name)
    try:
        check = service.set_password(name, str(form.get("password") or ""))
    except MailmatchError as exc:
        problem = {"message": exc.message, "code": exc.code, "advice": exc.advice}
        return render(request, "_connect_problem.html", problem)
    # A new password is only worth keeping if it works: test it right away, as the import will.
    result = service.test(name, Surface.ACCOUNTS)
    context: dict[str, Any] = {
        "ok": result.ok,
        "protocols": checks_view(result, view.provider_id),
        "warnings": check.warnings,
        "title": "Password saved" + (" and tested" if result.ok else ", but the test failed"),
    }
    return render(request, "_account_checks.html", context)


@router.get("/accounts/{name}/remove")
def confirm_remove(request: Request, name: str, principal: PageUser, state: State) -> Response:
    view = state.accounts(principal.workspace_id).get(name)
    return render(request, "accounts_remove.html", {"account": view}, nav="accounts")


@router.post("/accounts/{name}/remove")
def remove(name: str, principal: FormUser, state: State) -> Response:
    state.accounts(principal.workspace_id).remove(name)
    return RedirectResponse("/accounts", status_code=303)
