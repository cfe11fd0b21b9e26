"""The sign-in limit behind a reverse proxy: ``mailmatch serve`` as a user runs it.

Every request here comes from 127.0.0.1, as it does from a proxy on the same machine. Uvicorn
itself trusts X-Forwarded-For from 127.0.0.1 by default; mailmatch must not, unless told.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from mailmatch.config import load_settings, parse_trusted_proxies
from mailmatch.errors import ConfigError
from mailmatch.store.db import open_database
from mailmatch.users.service import UserService
from tests.cli import run_mailmatch
from tests.servers.tcp import free_port

PASSWORD = "correct horse battery staple"

Serve = Callable[..., str]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    """``serve(*flags, env={...})`` starts ``mailmatch serve`` on a home with the users ann and
    bob and returns its URL; the processes are stopped at the end."""
    started: list[subprocess.Popen[bytes]] = []

    def start(*flags: str, env: dict[str, str] | None = None) -> str:
        home = tmp_path / f"home{len(started)}"
        db = open_database(load_settings({"MAILMATCH_HOME": str(home)}))
        for email in ("ann@example.org", "bob@example.org"):
            UserService(db).create(email, PASSWORD)
        db.engine.dispose()
        port = free_port()
        clean = {k: v for k, v in os.environ.items() if not k.startswith("MAILMATCH_")}
        process = subprocess.Popen(
            [sys.executable, "-m", "mailmatch", "serve", "--host", "127.0.0.1",
             "--port", str(port), "--no-scheduler", *flags],
            env={**clean, "MAILMATCH_HOME": str(home), **(env or {})},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        started.append(process)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            try:
                httpx.get(f"{url}/login", timeout=1)
                return url
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError("mailmatch serve did not start")

    yield start
    for process in started:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def sign_in(url: str, email: str, password: str, forwarded_for: str | None = None) -> int:
    """One sign-in through the form, as a browser behind the proxy sends it; the status."""
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    with httpx.Client(base_url=url, headers=headers) as browser:
        token = re.search(r'name="csrf_token" value="([^"]+)"', browser.get("/login").text)
        assert token
        answer = browser.post(
            "/login",
            data={"email": email, "password": password, "csrf_token": token.group(1)},
        )
        return answer.status_code


def five_wrong_passwords(url: str, forwarded_for: str | None) -> list[int]:
    """Five guesses at five addresses from one person: only the per-address count reaches 5."""
    return [sign_in(url, f"guess{n}@example.org", "wrong", forwarded_for) for n in range(5)]


def test_behind_a_trusted_proxy_one_persons_failures_do_not_lock_out_the_others(
    serve: Serve,
) -> None:
    url = serve("--trusted-proxy", "127.0.0.1")

    assert five_wrong_passwords(url, "203.0.113.5") == [401] * 5
    assert sign_in(url, "ann@example.org", PASSWORD, "203.0.113.5") == 429  # still limited
    assert sign_in(url, "bob@example.org", PASSWORD, "198.51.100.7") == 303  # someone else


def test_a_client_cannot_escape_the_limit_by_writing_its_own_forwarded_for(
    serve: Serve,
) -> None:
    url = serve(env={"MAILMATCH_TRUSTED_PROXIES": "127.0.0.0/8"})
    # The proxy appends the address it saw; what the client wrote stays on the left.
    for n in range(5):
        assert sign_in(url, f"guess{n}@example.org", "x", f"10.9.9.{n}, 203.0.113.5") == 401

    assert sign_in(url, "ann@example.org", PASSWORD, "10.1.1.1, 203.0.113.5") == 429
    assert sign_in(url, "bob@example.org", PASSWORD, "10.9.9.0, 198.51.100.7") == 303


def test_by_default_forwarded_for_is_ignored_even_from_127_0_0_1(serve: Serve) -> None:
    url = serve()

    assert five_wrong_passwords(url, "203.0.113.5") == [401] * 5
    # Another "client" per the header, but the same peer: the header is not believed.
    assert sign_in(url, "bob@example.org", PASSWORD, "198.51.100.7") == 429


def test_trusted_proxies_must_be_addresses_or_networks() -> None:
    assert parse_trusted_proxies("127.0.0.1, 10.0.0.0/8,::1") == ("127.0.0.1", "10.0.0.0/8", "::1")
    assert load_settings({"MAILMATCH_TRUSTED_PROXIES": "192.168.1.7/24"}).trusted_proxies == (
        "192.168.1.0/24",
    )
    for bad in ("*", "proxy.internal", "10.0.0.300"):
        with pytest.raises(ConfigError):
            load_settings({"MAILMATCH_TRUSTED_PROXIES": bad})


def test_serve_refuses_a_trusted_proxy_that_is_no_address(tmp_path: Path) -> None:
    result = run_mailmatch(tmp_path / "home", "serve", "--trusted-proxy", "*", "--port", "9")
    assert result.returncode == 1
    assert "not '*'" in result.stdout + result.stderr
