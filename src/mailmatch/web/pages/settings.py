"""Pages: ignore rules, webhooks (with their delivery log) and the user's API tokens.

A new API token is shown once, on the page that answers the form, never again: only its hash
is stored. That page is not cached (the app sends ``Cache-Control: no-store`` on every page).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from mailmatch.contacts.rules import RuleService
from mailmatch.errors import InvalidInput, MailmatchError, NotFound
from mailmatch.web.api.settings import webhook_service
from mailmatch.web.pages.common import path_id
from mailmatch.web.security import FormUser, PageUser, Principal, State
from mailmatch.web.templating import render
from mailmatch.webhooks.service import EVENTS, WebhookService

router = APIRouter()

RULE_KINDS = ("address", "domain", "pattern")


def _rules(state: Any, principal: Principal) -> RuleService:
    return RuleService(state.db, workspace_id=principal.workspace_id)


def _webhooks(state: Any, principal: Principal) -> WebhookService:
    return webhook_service(state, principal)


def _count(request: Request) -> str | None:
    value = request.query_params.get("n", "")
    return value if value.isdigit() else None


# -- ignore rules -----------------------------------------------------------------------------


def _rules_page(
    request: Request,
    state: Any,
    principal: Principal,
    *,
    form: dict[str, str] | None = None,
    error: MailmatchError | None = None,
) -> Response:
    rules = _rules(state, principal).rules()
    done = request.query_params.get("done")
    context = {
        "rules": [r for r in rules if not r["builtin"]],
        "builtin": [r for r in rules if r["builtin"]],
        "kinds": RULE_KINDS,
        "form": form or {"kind": "address"},
        "error": error,
        "done": done if done in ("added", "removed") else None,
        "count": _count(request),
    }
    return render(request, "rules.html", context, nav="rules", status_code=422 if error else 200)


@router.get("/rules")
def rules(request: Request, principal: PageUser, state: State) -> Response:
    return _rules_page(request, state, principal)


@router.post("/rules")
def add_rule(
    request: Request,
    principal: FormUser,
    state: State,
    kind: Annotated[str, Form(max_length=16)],
    value: Annotated[str, Form(max_length=500)],
) -> Response:
    try:
        change = _rules(state, principal).add_rule(kind, value)
    except MailmatchError as exc:
        return _rules_page(
            request, state, principal, form={"kind": kind, "value": value}, error=exc
        )
    return RedirectResponse(f"/rules?done=added&n={change.rematched}", status_code=303)


@router.post("/rules/{rule_id}/delete")
def remove_rule(rule_id: int, principal: FormUser, state: State) -> Response:
    change = _rules(state, principal).remove_rule(path_id(rule_id, "rule"))
    return RedirectResponse(f"/rules?done=removed&n={change.rematched}", status_code=303)


# -- webhooks ---------------------------------------------------------------------------------


def _webhooks_page(
    request: Request,
    state: Any,
    principal: Principal,
    *,
    form: dict[str, Any] | None = None,
    error: MailmatchError | None = None,
) -> Response:
    hooks = _webhooks(state, principal).all()
    context = {
        "hooks": hooks,
        "events": EVENTS,
        "form": form or {"events": list(EVENTS)},
        "error": error,
        "added": request.query_params.get("added") == "1",
        "removed": request.query_params.get("removed") == "1",
    }
    return render(
        request, "webhooks.html", context, nav="webhooks", status_code=422 if error else 200
    )


@router.get("/webhooks")
def webhooks(request: Request, principal: PageUser, state: State) -> Response:
    return _webhooks_page(request, state, principal)


@router.post("/webhooks")
def add_webhook(
    request: Request,
    principal: FormUser,
    state: State,
    url: Annotated[str, Form(max_length=2000)],
    secret: Annotated[str, Form(max_length=500)],
    events: Annotated[list[str] | None, Form()] = None,
) -> Response:
    chosen = [e for e in (events or []) if isinstance(e, str)][:10]
    service = _webhooks(state, principal)
    try:
        if not chosen:
            raise InvalidInput("choose at least one event to send")
        service.add(url.strip(), secret, chosen)
    except MailmatchError as exc:
        form = {"url": url, "events": chosen}
        return _webhooks_page(request, state, principal, form=form, error=exc)
    return RedirectResponse("/webhooks?added=1", status_code=303)


@router.get("/webhooks/{webhook_id}")
def webhook(request: Request, webhook_id: int, principal: PageUser, state: State) -> Response:
    service = _webhooks(state, principal)
    log = service.log(path_id(webhook_id, "webhook"), limit=100, details=principal.user.is_admin)
    hook = next((h for h in service.all() if h["id"] == webhook_id), None)
    if hook is None:
        raise NotFound(f"no webhook {webhook_id}")
    return render(request, "webhooks_detail.html", {"hook": hook, "log": log}, nav="webhooks")


@router.post("/webhooks/{webhook_id}/delete")
def remove_webhook(webhook_id: int, principal: FormUser, state: State) -> Response:
    _webhooks(state, principal).remove(path_id(webhook_id, "webhook"))
    return RedirectResponse("/webhooks?removed=1", status_code=303)


# -- API tokens -------------------------------------------------------------------------------


def _tokens_page(
    request: Request, state: Any, principal: Principal, new_token: str | None = None
) -> Response:
    context = {
        "tokens": state.users.tokens(principal.user.email),
        "new_token": new_token,
        "api_base": str(request.base_url).rstrip("/") + "/api/v1",
        "revoked": request.query_params.get("revoked") == "1",
    }
    return render(request, "settings.html", context, nav="settings")


@router.get("/settings")
def settings_page(request: Request, principal: PageUser, state: State) -> Response:
    return _tokens_page(request, state, principal)


@router.post("/settings/tokens")
def create_token(
    request: Request,
    principal: FormUser,
    state: State,
    name: Annotated[str, Form(min_length=1, max_length=200)] = "api",
) -> Response:
    token = state.users.create_token(principal.user.email, name.strip() or "api")
    return _tokens_page(request, state, principal, new_token=token)


@router.post("/settings/tokens/{token_id}/revoke")
def revoke_token(token_id: int, principal: FormUser, state: State) -> Response:
    state.users.revoke_token(principal.user.email, path_id(token_id, "token"))
    return RedirectResponse("/settings?revoked=1", status_code=303)
