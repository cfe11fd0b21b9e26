"""The help center: public pages generated from the provider catalog.

These are what people read before they connect a mailbox (and where every diagnosis links to), so
they need no sign-in. Everything on them comes from :mod:`mailmatch.providers.guide`, the same
data the wizard and the API show.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from mailmatch.providers.guide import GROUP_BLURBS, GROUP_TITLES, grouped, guide_for, search
from mailmatch.providers.guide import troubles_for as general_troubles
from mailmatch.web.security import State
from mailmatch.web.templating import render

router = APIRouter()


@router.get("/help")
def help_index(request: Request, state: State, q: str | None = None) -> Response:
    providers = search(state.catalog, q)
    context = {
        "q": q or "",
        "groups": grouped(providers),
        "titles": GROUP_TITLES,
        "blurbs": GROUP_BLURBS,
        "count": len(providers),
        "total": len(state.catalog),
        "troubles": general_troubles(None),
        "guides": {p.id: guide_for(p) for p in providers},
    }
    if request.headers.get("HX-Request") == "true" and request.headers.get("HX-Target") == (
        "provider-results"
    ):
        return render(request, "_provider_grid.html", context)
    return render(request, "help.html", context, nav="help")


@router.get("/help/providers/{provider_id}")
def provider_help(request: Request, provider_id: str, state: State) -> Response:
    provider = state.catalog.get(provider_id)
    if provider is None:
        context = {"wanted": provider_id, "total": len(state.catalog)}
        return render(request, "help_missing.html", context, status_code=404, nav="help")
    return render(request, "help_provider.html", {"g": guide_for(provider)}, nav="help")
