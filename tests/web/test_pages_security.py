"""Every page is behind sign-in (but the sign-in page and the help center), and every form
post needs the session's CSRF token: checked over the whole route table, so a page added later
without its dependency fails here."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from mailmatch.users.service import UserView
from mailmatch.web.pages import router as pages_router
from tests.web.conftest import sign_in

PUBLIC = {"/login", "/help", "/help/providers/{provider_id}"}


def _routes(router: Any) -> Iterator[APIRoute]:
    for item in router.routes:
        inner = getattr(item, "original_router", None)  # FastAPI's wrapper of included routers
        if inner is not None:
            yield from _routes(inner)
        elif isinstance(item, APIRoute):
            yield item
        elif hasattr(item, "routes"):
            yield from _routes(item)


def page_routes() -> list[tuple[str, str]]:
    return sorted(
        (method, route.path)
        for route in _routes(pages_router)
        for method in route.methods - {"HEAD"}
    )


def _url(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_the_route_table_is_seen() -> None:
    routes = page_routes()
    assert ("GET", "/") in routes and ("POST", "/logout") in routes
    assert len(routes) > 30


def test_anonymous_visitors_are_sent_to_sign_in(client: TestClient) -> None:
    for method, path in page_routes():
        if path in PUBLIC:
            continue
        answer = client.request(method, _url(path), follow_redirects=False)
        assert answer.status_code == 303, (method, path, answer.status_code)
        assert answer.headers["location"].startswith("/login?next="), (method, path)


def test_htmx_calls_of_an_expired_session_redirect_the_whole_page(client: TestClient) -> None:
    answer = client.post("/connect/detect", headers={"HX-Request": "true"})
    assert answer.status_code == 401
    assert answer.headers["HX-Redirect"].startswith("/login?next=")


def test_every_form_post_needs_the_csrf_token(client: TestClient, alice: UserView) -> None:
    sign_in(client, alice.email)
    posts = [path for method, path in page_routes() if method == "POST" and path not in PUBLIC]
    assert len(posts) > 15
    for path in posts:
        answer = client.post(_url(path), data={"csrf_token": "forged"}, follow_redirects=False)
        assert answer.status_code == 403, (path, answer.status_code)
