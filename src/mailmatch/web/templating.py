"""Jinja2 set-up: templates shipped in the package, a few filters, and ``render``.

``render`` adds what every page's layout needs (the signed-in user, the CSRF token for forms
and htmx, which menu entry is active), so handlers pass only their own data.
"""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from mailmatch.timeutil import aware

TEMPLATES = Jinja2Templates(directory=str(resources.files("mailmatch.web").joinpath("templates")))


def when(value: datetime | str | None) -> str:
    """A date as people read it on a dashboard: relative when recent, else the day."""
    if value is None:
        return "never"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return str(value)
    moment = aware(value)
    assert moment is not None
    delta = datetime.now(UTC) - moment
    seconds = int(delta.total_seconds())
    if seconds < 0:
        ahead = -seconds
        if ahead < 90:
            return "in a minute"
        if ahead < 5400:
            return f"in {ahead // 60} min"
        if ahead < 86400:
            return f"in {ahead // 3600} h"
        return moment.strftime("%d %b %Y %H:%M")
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    if seconds < 7 * 86400:
        return f"{seconds // 86400} d ago"
    return moment.strftime("%d %b %Y")


def day(value: datetime | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return str(value)
    return value.strftime("%d %b %Y %H:%M")


def size(value: int | None) -> str:
    if value is None:
        return ""
    step = 1024.0
    amount = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if amount < step:
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= step
    return f"{amount:.1f} TB"


TEMPLATES.env.filters["when"] = when
TEMPLATES.env.filters["day"] = day
TEMPLATES.env.filters["size"] = size


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    nav: str | None = None,
) -> HTMLResponse:
    from mailmatch.web.security import session_info
    from mailmatch.web.state import app_state

    info = session_info(request, app_state(request))
    data: dict[str, Any] = {
        "user": info.user if info else None,
        "csrf_token": info.csrf_token if info else None,
        "nav": nav,
        "htmx": request.headers.get("HX-Request") == "true",
    }
    data.update(context or {})
    return TEMPLATES.TemplateResponse(request, template, data, status_code=status_code)
