"""Who is calling: a bearer token (scripts) or a session cookie (the browser), and CSRF.

* API routes take ``Authorization: Bearer <token>`` or the session cookie; with the cookie, an
  unsafe method must echo the session's CSRF token in ``X-CSRF-Token`` (htmx sends it on every
  request). Bearer calls need no CSRF token: a browser never adds that header on its own.
* Pages take the session cookie; without one they redirect to the sign-in page. Forms carry
  the token in a hidden ``csrf_token`` field.
* The sign-in form, before any session exists, uses a double-submit cookie.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from mailmatch.users.service import SessionInfo, UserView
from mailmatch.web.state import AppState, app_state

SESSION_COOKIE = "mm_session"
LOGIN_CSRF_COOKIE = "mm_login_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

bearer = HTTPBearer(
    auto_error=False,
    description="An API token from `mailmatch users token EMAIL`, or the page's session.",
)


@dataclass(frozen=True)
class Principal:
    user: UserView
    via: Literal["session", "token"]
    csrf_token: str | None = None

    @property
    def workspace_id(self) -> int:
        return self.user.workspace_id


class LoginRequired(Exception):
    """Raised by page dependencies; the app turns it into a redirect to the sign-in page."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url

    @property
    def location(self) -> str:
        return f"/login?next={quote(self.next_url, safe='/')}"


def session_info(request: Request, state: AppState) -> SessionInfo | None:
    if hasattr(request.state, "mm_session"):
        cached: SessionInfo | None = request.state.mm_session
        return cached
    cookie = request.cookies.get(SESSION_COOKIE)
    info = state.users.session_for(cookie) if cookie else None
    request.state.mm_session = info
    return info


def csrf_matches(expected: str | None, given: str | None) -> bool:
    return bool(expected and given and secrets.compare_digest(expected, given))


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


def api_principal(
    request: Request,
    state: Annotated[AppState, Depends(app_state)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    if credentials is not None:
        user = state.users.user_for_token(credentials.credentials)
        if user is None:
            raise _unauthorized("the API token is unknown or revoked")
        return Principal(user, "token")
    info = session_info(request, state)
    if info is None:
        raise _unauthorized("sign in, or send an API token as 'Authorization: Bearer <token>'")
    if request.method not in SAFE_METHODS and not csrf_matches(
        info.csrf_token, request.headers.get(CSRF_HEADER)
    ):
        raise HTTPException(403, detail=f"missing or wrong {CSRF_HEADER} header")
    return Principal(info.user, "session", info.csrf_token)


def page_principal(request: Request, state: Annotated[AppState, Depends(app_state)]) -> Principal:
    info = session_info(request, state)
    if info is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    return Principal(info.user, "session", info.csrf_token)


async def form_principal(
    request: Request, principal: Annotated[Principal, Depends(page_principal)]
) -> Principal:
    """For POSTed forms and htmx calls: the session must come with its CSRF token."""
    given = request.headers.get(CSRF_HEADER)
    if given is None:
        form = await request.form()
        value = form.get("csrf_token")
        given = value if isinstance(value, str) else None
    if not csrf_matches(principal.csrf_token, given):
        raise HTTPException(403, detail="this form has expired: reload the page and try again")
    return principal


ApiUser = Annotated[Principal, Depends(api_principal)]
PageUser = Annotated[Principal, Depends(page_principal)]
FormUser = Annotated[Principal, Depends(form_principal)]
State = Annotated[AppState, Depends(app_state)]
