"""Pages: the dashboard at ``/``: matching over a range, import health, open alerts.

Every figure comes from :class:`mailmatch.reports.dashboard.DashboardService` (a few indexed
aggregate queries); this module only renders them. The view is chosen by plain links
(``?count_by=processed|message_date&range=30d|90d|1y|all``), so it works without JavaScript;
htmx swaps only the figures when it is there. Unknown values fall back to the default view
rather than an error page: the query string is a bookmark, not a form to validate. A
workspace with no mailbox yet gets a first-run page that leads to the connect wizard.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse, Response

from mailmatch.reports.alerts import AlertService
from mailmatch.reports.chart import COUNT_BY, PERIOD_LABELS, parse_count_by, parse_period
from mailmatch.reports.dashboard import DashboardService
from mailmatch.web.pages import imports as _imports  # noqa: F401  (registers the badge filters)
from mailmatch.web.security import FormUser, PageUser, State
from mailmatch.web.templating import render

router = APIRouter()


@router.get("/")
def dashboard(request: Request, principal: PageUser, state: State) -> Response:
    count_by = parse_count_by(request.query_params.get("count_by"))
    period = parse_period(request.query_params.get("range"))
    service = DashboardService(state.db, workspace_id=principal.workspace_id)
    data = service.dashboard(period, count_by=count_by)
    context = {"d": data, "periods": PERIOD_LABELS, "count_bys": COUNT_BY}
    return render(request, "dashboard.html", context, nav="dashboard")


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
