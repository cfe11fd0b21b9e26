"""REST API: imports, their runs ("Start Import Manually"), and their live progress.

Every route works in the caller's workspace: an import of another workspace is "not found".
A run starts on a background thread of this server and is followed with ``runs/current``; the
import's lease keeps it from overlapping a run of the scheduler or the CLI.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path
from pydantic import BaseModel, Field

from mailmatch.imports.service import ImportService, ImportView
from mailmatch.reports.dashboard import DashboardService
from mailmatch.timeutil import parse_every
from mailmatch.web.security import ApiUser, State
from mailmatch.web.state import AppState

router = APIRouter(tags=["imports"])

#: Names travel in URLs and into the database: no slash, no control characters.
NAME_PATTERN = r"^[^/\x00-\x1f\x7f]{1,200}$"
FOLDER_PATTERN = r"^[^\x00-\x1f\x7f]{1,500}$"
EVERY_PATTERN = r"^\s*\d{1,6}\s*[smhdSMHD]?\s*$"

ImportName = Annotated[str, Path(pattern=NAME_PATTERN, description="The import's name.")]
Folder = Annotated[str, Field(pattern=FOLDER_PATTERN)]


class ErrorOut(BaseModel):
    code: str
    message: str
    server_text: str | None = None
    advice: list[str] = []
    folder: str | None = None


class AlertBrief(BaseModel):
    code: str
    message: str
    created_at: str


class ImportOut(BaseModel):
    name: str
    account: str
    folders: list[str] | None = Field(description="null: INBOX and Sent, found on the server")
    every: str | None = Field(description="The schedule, e.g. 20m; null: only run by hand")
    state: str = Field(
        description="ok, running, auth_failed, needs_app_password, connect_error, rate_limited"
    )
    running: bool = Field(description="A run holds the import's lease right now")
    next_run_at: str | None
    last_run_at: str | None
    last_ok_at: str | None
    failing_since: str | None
    last_run: dict[str, Any] | None = Field(
        description="Figures of the last run: new, skipped_duplicates, defective, seconds, ..."
    )
    last_error: ErrorOut | None
    alerts: list[AlertBrief]


class NewImport(BaseModel):
    name: str = Field(pattern=NAME_PATTERN)
    account: str = Field(pattern=NAME_PATTERN, max_length=320)
    folders: list[Folder] | None = Field(default=None, max_length=200)
    every: str | None = Field(default=None, pattern=EVERY_PATTERN, examples=["20m"])


class ImportChange(BaseModel):
    """Only the fields sent change; ``every: null`` turns the schedule off."""

    folders: list[Folder] | None = Field(default=None, max_length=200)
    every: str | None = Field(default=None, pattern=EVERY_PATTERN, examples=["1h"])


class FolderProgress(BaseModel):
    folder: str
    done: int
    total: int


class RunOut(BaseModel):
    model_config = {"populate_by_name": True}

    import_: str = Field(alias="import")
    running: bool
    here: bool = Field(description="true: this server runs it; false: the last recorded run")
    seconds: float | None
    folders: list[FolderProgress]
    done: int
    total: int
    result: dict[str, Any] | None = Field(description="The figures, once the run has ended")
    error: ErrorOut | None


def import_out(view: ImportView, running: bool) -> ImportOut:
    data = view.to_json()
    data.pop("folder_states", None)
    data["running"] = running or view.state == "running"
    return ImportOut.model_validate(data)


def _running(state: AppState, workspace_id: int) -> set[str]:
    """Names of the imports whose lease is held now (by this server or anyone else)."""
    health = DashboardService(state.db, workspace_id=workspace_id).health()
    return {h.name for h in health if h.running}


def _every(text: str | None) -> int | None:
    return parse_every(text) if text and text.strip() else None


@router.get("/imports", response_model=list[ImportOut])
def list_imports(principal: ApiUser, state: State) -> list[ImportOut]:
    ws = principal.workspace_id
    running = _running(state, ws)
    views = ImportService(state.db, workspace_id=ws).list()
    return [import_out(v, v.name in running) for v in views]


@router.post("/imports", response_model=ImportOut, status_code=201)
def create_import(body: NewImport, principal: ApiUser, state: State) -> ImportOut:
    service = ImportService(state.db, workspace_id=principal.workspace_id)
    folders = [f.strip() for f in body.folders or [] if f.strip()] or None
    view = service.create(body.name.strip(), body.account, folders, _every(body.every))
    return import_out(view, False)


@router.get("/imports/{name}", response_model=ImportOut)
def get_import(name: ImportName, principal: ApiUser, state: State) -> ImportOut:
    ws = principal.workspace_id
    view = ImportService(state.db, workspace_id=ws).get(name)
    return import_out(view, name in _running(state, ws))


@router.patch("/imports/{name}", response_model=ImportOut)
def change_import(
    name: ImportName, body: ImportChange, principal: ApiUser, state: State
) -> ImportOut:
    ws = principal.workspace_id
    service = ImportService(state.db, workspace_id=ws)
    changes: dict[str, Any] = {}
    if "folders" in body.model_fields_set:
        changes["folders"] = [f.strip() for f in body.folders or [] if f.strip()] or None
    if "every" in body.model_fields_set:
        changes["every_seconds"] = _every(body.every)
    view = service.update(name, **changes) if changes else service.get(name)
    return import_out(view, name in _running(state, ws))


@router.delete("/imports/{name}", status_code=204)
def remove_import(name: ImportName, principal: ApiUser, state: State) -> None:
    ws = principal.workspace_id
    live = state.runs.get(ws, name)
    if live is not None and not live.finished:
        raise HTTPException(409, detail=f"import {name!r} is running: wait for it to finish")
    ImportService(state.db, workspace_id=ws).remove(name)


def run_out(state: AppState, workspace_id: int, name: str) -> RunOut | None:
    """The live run of this server, else the last run the database recorded, else None."""
    live = state.runs.get(workspace_id, name)
    if live is not None:
        return RunOut.model_validate({**live.to_json(), "here": True})
    view = ImportService(state.db, workspace_id=workspace_id).get(name)
    if view.last_stats is None and view.last_error is None:
        return None
    figures = view.last_stats or {}
    folders = [
        {"folder": f.get("name", "?"), "done": f.get("fetched", 0), "total": f.get("fetched", 0)}
        for f in figures.get("folders", [])
        if isinstance(f, dict)
    ]
    return RunOut.model_validate(
        {
            "import": name,
            "running": view.state == "running",
            "here": False,
            "seconds": figures.get("seconds"),
            "folders": folders,
            "done": sum(f["done"] for f in folders),
            "total": sum(f["total"] for f in folders),
            "result": view.last_stats,
            "error": view.last_error if view.state != "ok" else None,
        }
    )


@router.post("/imports/{name}/runs", response_model=RunOut, status_code=202)
def start_run(name: ImportName, principal: ApiUser, state: State) -> RunOut:
    """Start the import now on this server ("Start Import Manually"); follow it with
    ``GET runs/current``. 409 when it is already running, here or elsewhere."""
    ws = principal.workspace_id
    ImportService(state.db, workspace_id=ws).get(name)  # 404 before anything starts
    live = state.runs.get(ws, name)
    if live is not None and not live.finished:
        raise HTTPException(409, detail=f"import {name!r} is already running on this server")
    if name in _running(state, ws):
        raise HTTPException(
            409, detail=f"import {name!r} is already running elsewhere (the scheduler or the CLI)"
        )
    run = state.runs.start(ws, name)
    if run is None:  # removed meanwhile
        raise HTTPException(404, detail=f"no import {name!r}")
    return RunOut.model_validate({**run.to_json(), "here": True})


@router.get("/imports/{name}/runs/current", response_model=RunOut)
def current_run(name: ImportName, principal: ApiUser, state: State) -> RunOut:
    """The progress of the run going on now, or the figures of the last one."""
    found = run_out(state, principal.workspace_id, name)
    if found is None:
        raise HTTPException(404, detail=f"import {name!r} has never run")
    return found
