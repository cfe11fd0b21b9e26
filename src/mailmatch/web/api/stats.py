"""REST API: the dashboard's figures and the alerts of the caller's workspace."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from mailmatch.reports.alerts import AlertService, AlertView
from mailmatch.reports.chart import CountBy, Period
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
    counted_by: CountBy = Field(
        description="processed: messages are counted on the day mailmatch stored and matched "
        "them; message_date: on the day of their Date header. Re-matching moves neither."
    )
    range: Period = Field(description="30d, 90d, 1y or all")
    bucket: str = Field(description="What one entry of `days` covers: day, week, month, year")
    matched: int
    unmatched: int
    ignored: int
    messages: int = Field(description="Every message stored in the workspace")
    future_dated: int = Field(
        description="Messages whose Date header is later than now (counted on no day when "
        "counting by message date)"
    )
    undated: int = Field(description="Messages without a parseable Date header")
    contacts: int
    accounts: int
    days: list[DayOut] = Field(description="One entry per bucket; `day` is its first day")
    imports: list[ImportHealthOut]
    alerts: list[AlertOut]


def alert_out(alert: AlertView) -> AlertOut:
    return AlertOut.model_validate(alert.to_json())


@router.get("/dashboard", response_model=DashboardOut)
def dashboard(
    principal: ApiUser,
    state: State,
    count_by: Annotated[
        CountBy, Query(description="processed (when mailmatch stored the mail) or message_date")
    ] = "processed",
    period: Annotated[
        Period, Query(alias="range", description="30d, 90d, 1y or all the mail")
    ] = "30d",
) -> DashboardOut:
    """Matched, no-match and ignored messages per day (week, month or year for long ranges),
    import health, open alerts."""
    service = DashboardService(state.db, workspace_id=principal.workspace_id)
    data = service.dashboard(period, count_by=count_by)
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
