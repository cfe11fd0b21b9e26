"""The connect wizard: address, the provider's guide, password and live test, save, import.

Every step after the first is an htmx POST that answers with a fragment, so a failure is shown in
place (htmx does not swap 4xx answers: expected failures are fragments with status 200).

The password travels only from the browser to these handlers: the result fragments never contain
it, and "Save" re-submits the still-filled form (``hx-include``) rather than the server keeping a
copy. Saving runs the test again, exactly as ``mailmatch accounts add`` does.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from mailmatch.accounts.advice import Surface
from mailmatch.accounts.service import NewAccount, ServerOverride
from mailmatch.accounts.wizard import SOURCE_TEXT, checks_view, try_connection, valid_fingerprint
from mailmatch.errors import AlreadyExists, InvalidInput, MailmatchError, NotFound
from mailmatch.imports.service import ImportService
from mailmatch.providers.discovery import NothingFound
from mailmatch.providers.guide import guide_for
from mailmatch.providers.models import Security
from mailmatch.timeutil import parse_every
from mailmatch.web.api.accounts import probing_accounts
from mailmatch.web.pages import accounts as account_pages
from mailmatch.web.security import FormUser, PageUser, State
from mailmatch.web.templating import render

router = APIRouter()
router.include_router(account_pages.router)

SECURITIES = [str(s) for s in Security]
DEFAULT_FOLDERS = ""  # empty: INBOX and the folder whose role is Sent, whatever its name


def _text(form: FormData, key: str) -> str | None:
    value = form.get(key)
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()


def _port(form: FormData, key: str) -> int | None:
    value = _text(form, key)
    if value is None:
        return None
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise InvalidInput(f"not a port number: {value!r}", advice=["A port is 1 to 65535."])
    return int(value)


def _security(form: FormData, key: str) -> Security | None:
    value = _text(form, key)
    if value is None:
        return None
    if value not in SECURITIES:
        raise InvalidInput(f"unknown security {value!r}", advice=["Use ssl, starttls or plain."])
    return Security(value)


def account_name(value: str | None) -> str | None:
    """A name usable in a URL path: everything but '/' (the name is the account's address by
    default, and addresses never contain one)."""
    if value is not None and "/" in value:
        raise InvalidInput("an account name cannot contain '/'")
    return value


def new_account(form: FormData) -> NewAccount:
    """The wizard's form as the same request ``accounts add`` builds from its options."""
    address = _text(form, "address")
    if address is None:
        raise InvalidInput("type the email address first")
    request = NewAccount(address=address, name=account_name(_text(form, "name")))
    if form.get("custom") == "1":
        request.username = _text(form, "username")
        request.cert_fingerprint = valid_fingerprint(_text(form, "fingerprint"))
        request.imap = ServerOverride(
            _text(form, "imap_host"), _port(form, "imap_port"), _security(form, "imap_security")
        )
        request.smtp = ServerOverride(
            _text(form, "smtp_host"), _port(form, "smtp_port"), _security(form, "smtp_security")
        )
    return request


def _fragment(request: Request, template: str, context: dict[str, Any], **headers: str) -> Response:
    response = render(request, template, context)
    response.headers.update(headers)
    return response


def _problem(request: Request, exc: MailmatchError, **headers: str) -> Response:
    context = {"message": exc.message, "code": exc.code, "advice": exc.advice}
    return _fragment(request, "_connect_problem.html", context, **headers)


def _manual_context(address: str | None, notes: list[str] | None = None) -> dict[str, Any]:
    return {
        "address": address or "",
        "guide": None,
        "notes": notes or [],
        "custom": True,
        "servers": {"imap_security": "ssl", "smtp_security": "ssl", "imap_port": 993,
                    "smtp_port": 465},
        "securities": SECURITIES,
        "step": 2,
    }  # fmt: skip


@router.get("/connect")
def connect_page(request: Request, principal: PageUser, address: str | None = None) -> Response:
    return render(request, "connect.html", {"address": address or "", "step": 1}, nav="connect")


@router.post("/connect/detect")
async def detect(request: Request, principal: FormUser, state: State) -> Response:
    form = await request.form()
    address = _text(form, "address")
    try:
        if address is None:
            raise InvalidInput("type the email address of the mailbox you want to connect")
        found = state.accounts(principal.workspace_id).resolve(NewAccount(address=address))
    except NothingFound as exc:
        context = _manual_context(address, exc.notes)
        context["not_found"] = True
        return render(request, "_connect_detected.html", context)
    except MailmatchError as exc:
        return _problem(request, exc)
    guide = guide_for(found.provider) if found.provider else None
    servers = {
        "imap_host": found.imap.host, "imap_port": found.imap.port,
        "imap_security": str(found.imap.security), "smtp_host": found.smtp.host,
        "smtp_port": found.smtp.port, "smtp_security": str(found.smtp.security),
        "username": found.username,
    }  # fmt: skip
    context = {
        "address": found.address,
        "found": found,
        "source_text": SOURCE_TEXT.get(found.source, str(found.source)),
        "guide": guide,
        "servers": servers,
        "securities": SECURITIES,
        "custom": bool(guide and guide.is_bridge),  # Bridge needs its certificate pinned
        "step": 2,
    }
    return render(request, "_connect_detected.html", context)


@router.get("/connect/manual")
def manual(request: Request, principal: PageUser, address: str | None = None) -> Response:
    return render(request, "_connect_detected.html", _manual_context(address))


@router.post("/connect/test")
async def test(request: Request, principal: FormUser, state: State) -> Response:
    form = await request.form()
    service = probing_accounts(state, principal)
    try:
        wanted = new_account(form)
        trial = try_connection(service, wanted, str(form.get("password") or ""))
    except MailmatchError as exc:
        return _problem(request, exc)
    provider = trial.discovery.provider
    context = {
        "ok": trial.ok,
        "warnings": trial.password.warnings,
        "protocols": checks_view(trial.test, provider.id if provider else None),
        "username": trial.username,
        "step": 3 if trial.ok else 2,
        "trust": True,
    }
    return render(request, "_connect_result.html", context)


SERVER_FIELDS = (
    "imap_host", "imap_port", "imap_security", "smtp_host", "smtp_port", "smtp_security",
    "username",
)  # fmt: skip


@router.post("/connect/trust")
async def trust(request: Request, principal: FormUser) -> Response:
    """ "Trust this certificate": the servers part of the form again, its fingerprint filled in.

    Done on the server because the page's CSP allows no inline script. The button posts the
    connect form (``hx-include``) plus the fingerprint the test showed; the answer replaces
    only ``#custom-servers`` (the servers as the user had them, switched to "use these", the
    pin set), so the password stays in its field and never comes back in a response. Nothing
    is trusted here: the next Test connection pins the certificate, and Save tests again.
    """
    form = await request.form()
    try:
        fingerprint = valid_fingerprint(_text(form, "trust"))
        if fingerprint is None:
            raise InvalidInput("no certificate to trust", advice=["Test the connection first."])
    except InvalidInput as exc:
        return _problem(request, exc, **{"HX-Retarget": "#result", "HX-Reswap": "innerHTML"})
    servers: dict[str, Any] = {key: _text(form, key) for key in SERVER_FIELDS}
    servers["fingerprint"] = fingerprint
    context = {"servers": servers, "securities": SECURITIES, "custom": True}
    return render(request, "_connect_trusted.html", context)


@router.post("/connect/save")
async def save(request: Request, principal: FormUser, state: State) -> Response:
    form = await request.form()
    service = probing_accounts(state, principal)
    retarget = {"HX-Retarget": "#result", "HX-Reswap": "innerHTML"}
    try:
        result = service.add(
            new_account(form), str(form.get("password") or ""), surface=Surface.WIZARD
        )
    except AlreadyExists as exc:  # the service's advice names CLI options; say it in page terms
        exc.advice = [
            "Type another account name above, or change that account's password on the "
            "Accounts page."
        ]
        return _problem(request, exc, **retarget)
    except MailmatchError as exc:
        return _problem(request, exc, **retarget)
    provider = result.discovery.provider
    if result.account is None:
        assert result.test is not None  # add() only refuses to save after a failed test
        context = {
            "ok": False,
            "warnings": result.password.warnings,
            "protocols": checks_view(result.test, provider.id if provider else None),
            "username": result.discovery.username,
            "step": 2,
            "trust": True,
        }
        return _fragment(request, "_connect_result.html", context, **retarget)
    context = {
        "account": result.account,
        "switched": result.smtp_switched,
        "import_name": result.account.name,
        "folders": DEFAULT_FOLDERS,
        "every": "20m",
        "step": 4,
    }
    return render(request, "_connect_saved.html", context)


@router.get("/connect/import")
def import_form(request: Request, principal: PageUser, state: State, account: str) -> Response:
    view = state.accounts(principal.workspace_id).get(account)
    context = {
        "account": view,
        "import_name": view.name,
        "folders": DEFAULT_FOLDERS,
        "every": "20m",
    }
    return render(request, "connect_import.html", context, nav="connect")


def _folders(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [f.strip() for f in text.split(",") if f.strip()] or None


@router.post("/connect/import")
async def create_import(request: Request, principal: FormUser, state: State) -> Response:
    form = await request.form()
    account = _text(form, "account") or ""
    name = _text(form, "name") or account
    every = _text(form, "every")
    try:
        view = state.accounts(principal.workspace_id).get(account)
        seconds = None if every in (None, "manual") else parse_every(every or "")
        ImportService(state.db, workspace_id=principal.workspace_id).create(
            name, view.name, _folders(_text(form, "folders")), seconds
        )
    except NotFound:
        raise
    except MailmatchError as exc:
        context = {
            "account": state.accounts(principal.workspace_id).get(account),
            "import_name": name,
            "folders": _text(form, "folders") or "",
            "every": every or "",
            "error": exc,
        }
        return render(request, "connect_import.html", context, nav="connect", status_code=422)
    return RedirectResponse("/imports", status_code=303)
