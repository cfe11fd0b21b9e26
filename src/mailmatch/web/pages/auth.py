"""Sign in and sign out."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from mailmatch.web.security import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    FormUser,
    State,
    csrf_matches,
    session_info,
)
from mailmatch.web.templating import render

router = APIRouter()


def safe_next(value: str | None) -> str:
    """Only a path on this site: an open redirect would make the sign-in page a phishing aid."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def _login_page(
    request: Request, next_url: str, error: str | None = None, status_code: int = 200
) -> Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
    response = render(
        request,
        "login.html",
        {"login_csrf": token, "next": next_url, "error": error},
        status_code=status_code,
    )
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/login")
    return response


@router.get("/login")
def login_form(request: Request, state: State, next: str | None = None) -> Response:
    if session_info(request, state) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _login_page(request, safe_next(next))


@router.post("/login")
def login(
    request: Request,
    state: State,
    email: Annotated[str, Form()],
    password: Annotated[str, Form()],
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    target = safe_next(next)
    if not csrf_matches(request.cookies.get(LOGIN_CSRF_COOKIE), csrf_token):
        return _login_page(request, target, "This form expired. Please try again.", 403)
    client = request.client.host if request.client else "unknown"
    wait = state.limiter.retry_after(client, email)
    if wait:
        minutes = max(1, round(wait / 60))
        response = _login_page(
            request,
            target,
            f"Too many failed sign-ins. Try again in about {minutes} minute(s).",
            429,
        )
        response.headers["Retry-After"] = str(wait)
        return response
    user = state.users.authenticate(email, password)
    if user is None:
        state.limiter.failed(client, email)
        return _login_page(request, target, "Wrong email or password.", 401)
    state.limiter.succeeded(email)
    new = state.users.start_session(user.id)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        new.cookie,
        expires=new.expires_at,
        httponly=True,
        samesite="lax",
        secure=state.secure_cookies,
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, state: State, principal: FormUser) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        state.users.end_session(cookie)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response
