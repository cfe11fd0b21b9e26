"""Fixtures for the web app: the app itself, signed-in clients, a live server and Chromium.

Browser tests drive Debian's ``chromium`` through Playwright (the browser Playwright downloads
does not run here). Screenshots go to ``$MAILMATCH_SCREENSHOTS`` when set (to look at them),
else to the test's temporary folder.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from mailmatch.config import Settings, load_settings
from mailmatch.users.service import UserService, UserView
from mailmatch.web.app import create_app
from tests.servers.tcp import free_port

PASSWORD = "correct horse battery staple"
CHROMIUM = os.environ.get("MAILMATCH_CHROMIUM", "/usr/bin/chromium")
# Read at import: the ``mailmatch_env`` fixture clears every MAILMATCH_* variable later.
SCREENSHOTS = os.environ.get("MAILMATCH_SCREENSHOTS")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture(autouse=True)
def test_hosts_opened(mailmatch_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Open what the tests' servers need, as an administrator would: Dovecot and aiosmtpd
    listen on random loopback ports, beyond the mail ports a web connection test may reach,
    and the webhooks the tests register point at ``hooks.test`` (opened, so never looked up).
    Tests of the refusals clear these variables."""
    monkeypatch.setenv("MAILMATCH_ALLOW_PORTS", "1024-65535")
    monkeypatch.setenv("MAILMATCH_ALLOW_INTERNAL", "hooks.test,h.test")


@pytest.fixture
def web_settings(mailmatch_env: Path) -> Settings:
    return load_settings()


@pytest.fixture
def app(web_settings: Settings) -> FastAPI:
    return create_app(web_settings)


def users_of(app: FastAPI) -> UserService:
    service: UserService = app.state.mailmatch.users
    return service


def add_user(app: FastAPI, email: str, *, workspace: str | None = None) -> UserView:
    return users_of(app).create(email, PASSWORD, workspace=workspace)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert found, "the page carries no CSRF token"
    return found.group(1)


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> str:
    """Sign in through the form as a browser does; returns the session's CSRF token."""
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    done = client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token.group(1), "next": "/"},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    return csrf_of(client.get("/").text)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def alice(app: FastAPI) -> UserView:
    return add_user(app, "alice@example.org")


@pytest.fixture
def bob(app: FastAPI, alice: UserView) -> UserView:
    """Created after alice, so in a workspace of his own."""
    return add_user(app, "bob@example.net")


def bearer(app: FastAPI, user: UserView) -> dict[str, str]:
    return {"Authorization": f"Bearer {users_of(app).create_token(user.email, 'test')}"}


# -- a live server and a browser --------------------------------------------------------------


class LiveServer:
    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the web server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def live_server(app: FastAPI) -> Iterator[LiveServer]:
    server = LiveServer(app).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium (scripts/test does)", pytrace=False
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


LAPTOP = {"width": 1366, "height": 860}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    target = Path(SCREENSHOTS or tmp_path / "screenshots")
    target.mkdir(parents=True, exist_ok=True)
    return target


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=LAPTOP)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()


@pytest.fixture
def phone(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    context.set_default_timeout(15_000)
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()


def browser_sign_in(page: Any, base_url: str, email: str, password: str = PASSWORD) -> None:
    page.goto(f"{base_url}/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/$"))
