"""REST API: the dashboard's figures and the alerts of the caller's workspace."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from mailmatch.reports.alerts import AlertService, AlertView
from mailmatch.reports.dashboard import DashboardService
from mailmatch.web.security import ApiUser, State

router = APIRouter(tags=["dashboard"])

AlertId = Annotated[int, Path(ge=1, le=2**31 - 1)]


class AlertOut(BaseModel):
    id: int
    import_: str = Field(alias="import")
    code: str
    message: str
    created_at: str | None
    resolved_at: str | None


class DayOut(BaseModel):
    day: str
    matched: int
    unmatched: int
    ignored: int


class ImportHealthOut(BaseModel):
    name: str
    account: str
    state: str
    running: bool
    last_run_at: str | None
    next_run_at: str | None
    last_ok_at: str | None
    failing_since: str | None
    error_code: str | None


class DashboardOut(BaseModel):
    since: str = Field(description="The first day of the window (UTC)")
    until: str = Field(description="The last day of the window, today (UTC)")
    counted_by: str = Field(
        description="message_date: messages are counted on the day of their Date header, so "
        "re-matching never moves them"
    )
    matched: int
    unmatched: int
    ignored: int
    messages: int = Field(description="Every message stored in the workspace")
    contacts: int
    accounts: int
    days: list[DayOut]
    imports: list[ImportHealthOut]
    alerts: list[AlertOut]


def alert_out(alert: AlertView) -> AlertOut:
    return AlertOut.model_validate(alert.to_json())


@router.get("/dashboard", response_model=DashboardOut)
def dashboard(principal: ApiUser, state: State) -> DashboardOut:
    """Matched, no-match and ignored messages per day over the last 30 days, import health,
    open alerts."""
    data = DashboardService(state.db, workspace_id=principal.workspace_id).dashboard()
    return DashboardOut.model_validate(data.to_json())


@router.get("/alerts", response_model=list[AlertOut])
def alerts(
    principal: ApiUser,
    state: State,
    open: Annotated[bool, Query(description="Only alerts not yet resolved")] = True,
) -> list[AlertOut]:
    service = AlertService(state.db, workspace_id=principal.workspace_id)
    return [alert_out(a) for a in service.list(open_only=open)]


@router.post("/alerts/{alert_id}/resolve", response_model=AlertOut)
def resolve_alert(alert_id: AlertId, principal: ApiUser, state: State) -> AlertOut:
    service = AlertService(state.db, workspace_id=principal.workspace_id)
    return alert_out(service.resolve(alert_id))
