"""The FastAPI app: pages, the REST API under ``/api/v1``, static assets, error handling.

``create_app`` is what ``mailmatch serve`` runs and what tests build; with ``scheduler=True``
the app also runs the import scheduler on a thread, so a single process does the whole job.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from mailmatch import __version__
from mailmatch.config import Settings
from mailmatch.errors import AlreadyExists, InvalidInput, MailmatchError, NotFound
from mailmatch.jobs.runners import make_runner
from mailmatch.jobs.scheduler import scheduler_registry, worker_loop
from mailmatch.sync.runner import ImportRunner
from mailmatch.web.security import LoginRequired
from mailmatch.web.state import AppState
from mailmatch.web.templating import render

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"

STATUS_OF: list[tuple[type[MailmatchError], int]] = [
    (NotFound, 404),
    (AlreadyExists, 409),
    (InvalidInput, 422),
]

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    411: "length_required",
    413: "too_large",
    422: "invalid_input",
    429: "rate_limited",
}

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def status_for(exc: MailmatchError) -> int:
    for kind, status in STATUS_OF:
        if isinstance(exc, kind):
            return status
    return 400


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX)


def error_body(code: str, message: str, advice: list[str] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "advice": advice or []}}


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        if request.headers.get("HX-Request") == "true":  # htmx follows HX-Redirect, not 303
            return Response(status_code=401, headers={"HX-Redirect": exc.location})
        return RedirectResponse(exc.location, status_code=303)

    @app.exception_handler(MailmatchError)
    async def mailmatch_error(request: Request, exc: MailmatchError) -> Response:
        status = status_for(exc)
        if _is_api(request):
            return JSONResponse(error_body(exc.code, exc.message, exc.advice), status)
        context = {"code": exc.code, "message": exc.message, "advice": exc.advice}
        return render(request, "error.html", context, status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = HTTP_CODES.get(exc.status_code, "error")
        message = str(exc.detail)
        headers = getattr(exc, "headers", None)
        if _is_api(request):
            return JSONResponse(error_body(code, message), exc.status_code, headers=headers)
        if exc.status_code == 404 and message == "Not Found":
            message = "There is no such page."
        context = {"code": code, "message": message, "advice": []}
        return render(request, "error.html", context, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = [
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
            for e in exc.errors()
        ]
        if _is_api(request):
            return JSONResponse(
                error_body("invalid_input", "the request is not valid", problems), 422
            )
        context = {"code": "invalid_input", "message": "The form is not valid.", "advice": problems}
        return render(request, "error.html", context, status_code=400)


def _install_headers(app: FastAPI) -> None:
    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response


def _install_proxy_headers(app: FastAPI, trusted: tuple[str, ...]) -> None:
    """Take the client's address from X-Forwarded-For, but only when the peer is a trusted
    proxy, and then the rightmost address no trusted proxy wrote (the ones to its left are
    whatever the client sent). Without this, behind a proxy every sign-in comes from the
    proxy's address and five wrong passwords lock everyone out.

    Uvicorn's own middleware does the work; it is installed here, in the app, with an empty
    default, because uvicorn's switch trusts 127.0.0.1 unless told otherwise (``serve``
    turns it off) and an app run by another server should behave the same.
    """
    if trusted:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(trusted))


def _scheduler(state: AppState, interval: float) -> tuple[threading.Thread, threading.Event, Any]:
    stop = threading.Event()
    runner = ImportRunner(state.accounts_for_scheduler())
    jobs = make_runner(state.settings, state.db, scheduler_registry(runner, shared=False))
    thread = threading.Thread(
        target=worker_loop, args=(runner, interval, stop, jobs), name="scheduler", daemon=True
    )
    thread.start()
    return thread, stop, jobs


def create_app(
    settings: Settings,
    *,
    scheduler: bool = False,
    scheduler_interval: float = 30.0,
    secure_cookies: bool = False,
    trusted_proxies: tuple[str, ...] | None = None,
) -> FastAPI:
    """``trusted_proxies`` (default: the setting) are the only peers whose X-Forwarded-For
    names the client; see :func:`_install_proxy_headers`."""
    state = AppState.open(settings)
    state.secure_cookies = secure_cookies

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        worker = _scheduler(state, scheduler_interval) if scheduler else None
        try:
            yield
        finally:
            if worker is not None:
                worker[1].set()
                worker[0].join(timeout=10)
                worker[2].shutdown(timeout=10)
            state.runs.shutdown()

    app = FastAPI(
        title="mailmatch",
        version=__version__,
        description="Connect mailboxes with app passwords, import their mail, match it to "
        "contacts, companies and deals.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,  # Swagger UI loads from a CDN; the OpenAPI document is what we ship
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.mailmatch = state
    static = resources.files("mailmatch.web").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")
    _install_error_handlers(app)
    _install_headers(app)
    _install_proxy_headers(
        app, settings.trusted_proxies if trusted_proxies is None else trusted_proxies
    )

    from mailmatch.web.api import router as api_router
    from mailmatch.web.pages import router as pages_router

    app.include_router(api_router, prefix=API_PREFIX)
    app.include_router(pages_router)
    return app
