"""Pages: the dashboard at ``/``: the last 30 days of matching, import health, open alerts.

Every figure comes from :class:`mailmatch.reports.dashboard.DashboardService` (a few indexed
aggregate queries); this module only renders them. A workspace with no mailbox yet gets a
first-run page that leads to the connect wizard instead of a wall of zeros.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse, Response

from mailmatch.reports.alerts import AlertService
from mailmatch.reports.dashboard import DashboardService
from mailmatch.web.pages import imports as _imports  # noqa: F401  (registers the badge filters)
from mailmatch.web.security import FormUser, PageUser, State
from mailmatch.web.templating import render

router = APIRouter()


@router.get("/")
def dashboard(request: Request, principal: PageUser, state: State) -> Response:
    data = DashboardService(state.db, workspace_id=principal.workspace_id).dashboard()
    return render(request, "dashboard.html", {"d": data}, nav="dashboard")


@router.post("/alerts/{alert_id}/resolve")
def resolve_alert(
    request: Request,
    alert_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    principal: FormUser,
    state: State,
) -> Response:
    alert = AlertService(state.db, workspace_id=principal.workspace_id).resolve(alert_id)
    if request.headers.get("HX-Request") != "true":
        return RedirectResponse("/", status_code=303)
    return render(request, "dashboard_alert_resolved.html", {"alert": alert})
