"""Pages: imports. Their health, Start Import Manually with live progress, a new password for a
paused import, folders and schedule, new imports, removal.

htmx does the live parts with plain attributes (the CSP allows no inline script): the Start
button posts, the answer is a progress panel that polls itself every second, and the last poll
also swaps in the import's refreshed status (``hx-swap-oob``). Without JavaScript every form
still posts and lands back on /imports.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from mailmatch.errors import InvalidInput, MailmatchError
from mailmatch.imports.service import ImportService, ImportView
from mailmatch.reports.dashboard import DashboardService, ImportHealth
from mailmatch.timeutil import format_every, parse_every
from mailmatch.web.security import FormUser, PageUser, State
from mailmatch.web.state import AppState
from mailmatch.web.templating import TEMPLATES, render

router = APIRouter()

STATE_BADGE = {
    "ok": ("ok", "OK"),
    "running": ("info", "Running"),
    "auth_failed": ("bad", "Password refused"),
    "needs_app_password": ("bad", "Needs a new app password"),
    "connect_error": ("warn", "Cannot connect"),
    "rate_limited": ("warn", "Rate limited"),
    "account_blocked": ("bad", "Account blocked by the provider"),
    "disk_full": ("bad", "Disk full"),
    "interrupted": ("warn", "Interrupted"),
    "never_run": ("plain", "Never run"),
}
BLOCKED = {"needs_app_password", "auth_failed"}


def dom_id(name: str) -> str:
    """An HTML id for an import: names may hold spaces, dots or @, ids should not."""
    return "imp-" + hashlib.sha1(name.encode()).hexdigest()[:12]


def badge(state: str) -> tuple[str, str]:
    return STATE_BADGE.get(state, ("info", state.replace("_", " ")))


TEMPLATES.env.filters["dom_id"] = dom_id
TEMPLATES.env.filters["state_badge"] = badge
TEMPLATES.env.filters["every"] = format_every


@dataclass
class ImportRow:
    """One import as the page shows it: its view, this server's live run, another holder."""

    view: ImportView
    live: dict[str, Any] | None
    holder: str | None  # the lease holder when the run is not this server's

    @property
    def dom(self) -> str:
        return dom_id(self.view.name)

    @property
    def running_here(self) -> bool:
        return bool(self.live and self.live["running"])

    @property
    def running_elsewhere(self) -> bool:
        return self.holder is not None and not self.running_here

    @property
    def state(self) -> str:
        return "running" if self.running_here or self.running_elsewhere else self.view.state

    @property
    def shown_state(self) -> str:
        """As the badge says it: an import that never ran is not "OK" yet."""
        return "never_run" if self.state == "ok" and self.view.never_run else self.state

    @property
    def blocked(self) -> bool:
        return self.view.state in BLOCKED


def _health(state: AppState, ws: int) -> dict[str, ImportHealth]:
    return {h.name: h for h in DashboardService(state.db, workspace_id=ws).health()}


def _row(state: AppState, ws: int, view: ImportView, health: ImportHealth | None) -> ImportRow:
    live = state.runs.get(ws, view.name)
    here = live is not None and not live.finished
    holder = health.lease_holder if health and not here else None
    return ImportRow(view, live.to_json() if live else None, holder)


def _one(state: AppState, ws: int, name: str) -> ImportRow:
    view = ImportService(state.db, workspace_id=ws).get(name)
    return _row(state, ws, view, _health(state, ws).get(name))


def _split_folders(text: str) -> list[str] | None:
    parts = [p.strip() for chunk in text.splitlines() for p in chunk.split(",")]
    return [p for p in parts if p] or None


def _every(text: str) -> int | None:
    return parse_every(text) if text.strip() else None


def _htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def _back(name: str | None = None) -> RedirectResponse:
    return RedirectResponse(f"/imports#{dom_id(name)}" if name else "/imports", status_code=303)


def _page(
    request: Request,
    state: AppState,
    ws: int,
    *,
    form: dict[str, str] | None = None,
    error: MailmatchError | None = None,
    status_code: int = 200,
) -> Response:
    health = _health(state, ws)
    rows = [
        _row(state, ws, v, health.get(v.name))
        for v in ImportService(state.db, workspace_id=ws).list()
    ]
    accounts = [a.name for a in state.accounts(ws).list()]
    context = {"rows": rows, "accounts": accounts, "form": form or {}, "error": error}
    return render(request, "imports.html", context, nav="imports", status_code=status_code)


@router.get("/imports")
def imports_page(request: Request, principal: PageUser, state: State) -> Response:
    return _page(request, state, principal.workspace_id)


@router.post("/imports")
def create_import(
    request: Request,
    principal: FormUser,
    state: State,
    name: Annotated[str, Form(max_length=200)],
    account: Annotated[str, Form(max_length=320)],
    folders: Annotated[str, Form(max_length=5000)] = "",
    every: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    ws = principal.workspace_id
    form = {"name": name, "account": account, "folders": folders, "every": every}
    try:
        clean = name.strip()
        if not clean or "/" in clean:
            raise InvalidInput("a name is needed, without '/'", advice=["e.g. work-inbox"])
        ImportService(state.db, workspace_id=ws).create(
            clean, account, _split_folders(folders), _every(every)
        )
    except MailmatchError as exc:
        return _page(request, state, ws, form=form, error=exc, status_code=422)
    return _back(clean)


def _card(request: Request, row: ImportRow, **extra: Any) -> Response:
    return render(request, "imports_card.html", {"row": row, **extra})


@router.get("/imports/{name}/card")
def import_card(request: Request, name: str, principal: PageUser, state: State) -> Response:
    return _card(request, _one(state, principal.workspace_id, name))


def _progress(request: Request, row: ImportRow, *, refresh: bool, note: str | None) -> Response:
    context = {"row": row, "refresh": refresh, "note": note}
    return render(request, "imports_progress.html", context)


@router.post("/imports/{name}/run")
def start_run(request: Request, name: str, principal: FormUser, state: State) -> Response:
    """Start Import Manually. A second click while it runs shows the same run; a run held by
    the scheduler or the CLI is shown, not doubled."""
    ws = principal.workspace_id
    row = _one(state, ws, name)  # NotFound for a name of another workspace
    note = None
    if row.running_here:
        note = "This import is already running; here is its progress."
    elif row.running_elsewhere:
        note = "already_elsewhere"
    else:
        state.runs.start(ws, name)
        row = _one(state, ws, name)
    if not _htmx(request):
        return _back(name)
    return _progress(request, row, refresh=True, note=note)


@router.get("/imports/{name}/run")
def run_progress(request: Request, name: str, principal: PageUser, state: State) -> Response:
    """Polled every second by the progress panel; the last answer stops the polling and
    refreshes the import's status."""
    row = _one(state, principal.workspace_id, name)
    return _progress(request, row, refresh=not row.running_here, note=None)


@router.post("/imports/{name}/password")
def change_password(
    request: Request,
    name: str,
    principal: FormUser,
    state: State,
    password: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Save a new app password, show the format check, test the login; a login that works
    takes the import out of needs_app_password at once."""
    ws = principal.workspace_id
    imports = ImportService(state.db, workspace_id=ws)
    view = imports.get(name)
    accounts = state.accounts(ws)
    context: dict[str, Any] = {"check": None, "test": None, "error": None}
    try:
        context["check"] = accounts.set_password(view.account, password)
        test = accounts.test(view.account)
        context["test"] = test.imap
        if test.imap.ok:
            imports.resume(name)
    except MailmatchError as exc:
        context["error"] = exc
    if not _htmx(request):
        return _back(name)
    return render(
        request,
        "imports_password.html",
        {"row": _one(state, ws, name), **context},
    )


@router.post("/imports/{name}/edit")
def edit_import(
    request: Request,
    name: str,
    principal: FormUser,
    state: State,
    folders: Annotated[str, Form(max_length=5000)] = "",
    every: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    ws = principal.workspace_id
    imports = ImportService(state.db, workspace_id=ws)
    imports.get(name)
    saved, error = False, None
    try:
        imports.update(name, folders=_split_folders(folders), every_seconds=_every(every))
        saved = True
    except MailmatchError as exc:
        error = exc
    if not _htmx(request):
        return _back(name)
    row = _one(state, ws, name)
    return _card(request, row, saved=saved, edit_error=error, edit_form={"folders": folders,
                 "every": every} if error else None)  # fmt: skip


@router.post("/imports/{name}/remove")
def remove_import(request: Request, name: str, principal: FormUser, state: State) -> Response:
    ws = principal.workspace_id
    row = _one(state, ws, name)
    if row.running_here:
        raise InvalidInput(f"import {name!r} is running", advice=["wait for it to finish"])
    ImportService(state.db, workspace_id=ws).remove(name)
    if not _htmx(request):
        return _back()
    return render(request, "imports_removed.html", {"name": name})
