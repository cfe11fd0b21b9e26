"""REST API: background job runs and the dead list (retry, drop).

A user sees the runs of their workspace; runs of every workspace (the webhook sweep) only an
administrator sees. A retried run executes on this server's job pool.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from mailmatch.errors import NotFound
from mailmatch.jobs import table
from mailmatch.jobs.model import RunView
from mailmatch.web.security import ApiUser, Principal, State

router = APIRouter(tags=["jobs"])

RunIdPath = Annotated[int, Path(ge=1, description="The run's id.")]


class JobRunOut(BaseModel):
    id: int
    kind: str = Field(description="e.g. import.run, webhooks.deliver")
    key: str = Field(description="What runs once at a time, e.g. import:42")
    args: dict[str, Any]
    workspace_id: int | None
    state: str = Field(description="queued, running, done, skipped, failed (retry due), dead")
    attempts: int
    max_attempts: int
    progress: dict[str, Any] | None
    result: Any = None
    error: dict[str, Any] | None
    created_at: str | None
    started_at: str | None
    finished_at: str | None


def _visible(run: RunView, principal: Principal) -> bool:
    if run.workspace_id is None:
        return principal.user.is_admin
    return run.workspace_id == principal.workspace_id


def _out(run: RunView) -> JobRunOut:
    data = run.to_json()
    data.pop("lease_owner", None)
    return JobRunOut.model_validate(data)


def _one(state: State, principal: Principal, run_id: int) -> RunView:
    run = table.get(state.db, run_id)
    if not _visible(run, principal):
        raise NotFound(f"no job run {run_id}")
    return run


@router.get("/jobs", response_model=list[JobRunOut])
def list_runs(
    principal: ApiUser,
    state: State,
    run_state: Annotated[str | None, Query(alias="state", max_length=20)] = None,
    kind: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[JobRunOut]:
    """The newest runs, optionally of one state (``dead``: the dead list) or kind."""
    runs = table.runs(
        state.db,
        states=(run_state,) if run_state else None,
        kind=kind,
        workspace_id=principal.workspace_id,
        limit=limit,
    )
    return [_out(r) for r in runs if _visible(r, principal)]


@router.get("/jobs/{run_id}", response_model=JobRunOut)
def get_run(run_id: RunIdPath, principal: ApiUser, state: State) -> JobRunOut:
    return _out(_one(state, principal, run_id))


@router.post("/jobs/{run_id}/retry", response_model=JobRunOut, status_code=202)
def retry_run(run_id: RunIdPath, principal: ApiUser, state: State) -> JobRunOut:
    """Queue a dead run again with all its attempts; this server runs it now."""
    _one(state, principal, run_id)
    run = table.retry(state.db, run_id)
    state.runs.run_queued(run_id)
    return _out(run)


@router.delete("/jobs/{run_id}", status_code=204)
def drop_run(run_id: RunIdPath, principal: ApiUser, state: State) -> None:
    """Remove a dead run from the dead list for good."""
    _one(state, principal, run_id)
    table.drop(state.db, run_id)
