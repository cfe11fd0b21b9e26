"""The connect wizard and the accounts page, through the pages and in Chromium.

Discovery runs for real but hermetically: DNS goes to a local server that knows nothing and the
ISPDB URL points at a closed loopback port, so an unknown domain fails fast and the wizard offers
the custom servers form, which is how the tests reach the fixture Dovecot (``localhost``, its
IMAPS port, its certificate pinned by fingerprint).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from mailmatch.config import Settings, load_settings
from mailmatch.imports.service import ImportService
from mailmatch.users.service import UserView
from tests.providers.conftest import LocalDns
from tests.servers.dovecot import AUTH_FAILED_REPLY, PASSWORD, USER
from tests.servers.scripted import ScriptedSMTP
from tests.servers.tcp import TLSServer, server_context
from tests.web.conftest import bearer, browser_sign_in, sign_in

HX = {"HX-Request": "true"}


@pytest.fixture
def web_settings(mailmatch_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    dns = LocalDns()
    dns.start()
    monkeypatch.setenv("MAILMATCH_DNS_SERVER", dns.address)
    monkeypatch.setenv("MAILMATCH_ISPDB_URL", "http://127.0.0.1:9/v1.1/")  # refused at once
    monkeypatch.setenv("MAILMATCH_CONNECT_TIMEOUT", "5")
    try:
        yield load_settings()
    finally:
        dns.stop()


def custom_form(dovecot: Any, smtp_server: Any, password: str, **extra: str) -> dict[str, Any]:
    return {
        "address": USER,
        "custom": "1",
        "imap_host": "localhost",
        "imap_port": str(dovecot.imaps_port),
        "imap_security": "ssl",
        "smtp_host": "localhost",
        "smtp_port": str(smtp_server.ssl_port),
        "smtp_security": "ssl",
        "fingerprint": dovecot.fingerprint,
        "password": password,
        **extra,
    }


def text_of(response: Any) -> str:
    return html.unescape(response.text)


def test_the_wizard_needs_a_session_and_its_token(client: TestClient, alice: UserView) -> None:
    assert client.get("/connect", follow_redirects=False).status_code == 303
    sign_in(client, alice.email)
    assert client.get("/connect").status_code == 200
    refused = client.post("/connect/detect", data={"address": "a@gmail.com"})
    assert refused.status_code == 403


def test_a_catalog_provider_shows_its_guide(client: TestClient, alice: UserView) -> None:
    csrf = sign_in(client, alice.email)
    answer = client.post(
        "/connect/detect", data={"address": "anna@gmail.com"}, headers={**HX, "X-CSRF-Token": csrf}
    )
    text = text_of(answer)
    assert "Gmail" in text
    assert "mailmatch's provider catalog" in text
    assert "2-Step Verification must be on" in text  # prerequisite
    assert "https://myaccount.google.com/apppasswords" in text  # where to generate it
    assert "xxxx xxxx xxxx xxxx" in text  # what it looks like
    assert "imap.gmail.com:993" in text
    assert 'id="connect-form"' in text


def test_outlook_is_stopped_before_the_password(client: TestClient, alice: UserView) -> None:
    csrf = sign_in(client, alice.email)
    answer = client.post(
        "/connect/detect", data={"address": "anna@outlook.com"}, headers={"X-CSRF-Token": csrf}
    )
    assert "cannot be connected with a password" in text_of(answer)
    assert 'id="connect-form"' not in answer.text


def test_bad_and_unknown_addresses(client: TestClient, alice: UserView) -> None:
    csrf = sign_in(client, alice.email)
    headers = {**HX, "X-CSRF-Token": csrf}
    bad = client.post("/connect/detect", data={"address": "no-at-sign"}, headers=headers)
    assert bad.status_code == 200  # htmx swaps it in place
    assert "Not an email address" in bad.text
    unknown = client.post("/connect/detect", data={"address": "a@nowhere.invalid"}, headers=headers)
    text = text_of(unknown)
    assert "We could not find settings for nowhere.invalid" in text
    assert "What mailmatch tried" in text
    assert 'name="imap_host"' in text and 'name="custom" value="1"' in text


def test_wrong_then_right_password_then_save_and_import(
    app: FastAPI, client: TestClient, alice: UserView, bob: UserView, dovecot: Any,
    smtp_server: Any,
) -> None:  # fmt: skip
    csrf = sign_in(client, alice.email)
    headers = {**HX, "X-CSRF-Token": csrf}

    wrong = client.post(
        "/connect/test", data=custom_form(dovecot, smtp_server, "bad-pass"), headers=headers
    )
    text = text_of(wrong)
    assert "The connection test failed" in text
    assert AUTH_FAILED_REPLY.removeprefix("NO ") in text  # Dovecot's own words
    assert "auth_failed" in text
    assert 'href="/help#trouble-auth_failed"' in text
    assert "not tried: IMAP refused the password" in text
    assert "bad-pass" not in wrong.text

    right = client.post(
        "/connect/test", data=custom_form(dovecot, smtp_server, PASSWORD), headers=headers
    )
    text = text_of(right)
    assert "Both logins work" in text
    assert text.count('class="pass"') >= 9  # 6 IMAP steps, 4 SMTP steps
    assert 'hx-post="/connect/save"' in text
    assert PASSWORD not in right.text
    assert client.get("/api/v1/accounts").json() == []  # testing saves nothing

    saved = client.post(
        "/connect/save",
        data=custom_form(dovecot, smtp_server, PASSWORD, name="mine"),
        headers=headers,
    )
    text = text_of(saved)
    assert f"{USER} is connected" in text
    assert 'action="/connect/import"' in text
    assert PASSWORD not in saved.text

    again = client.post(
        "/connect/save", data=custom_form(dovecot, smtp_server, PASSWORD, name="mine"),
        headers=headers,
    )  # fmt: skip
    assert again.headers["HX-Retarget"] == "#result"
    assert "An account named 'mine' exists" in text_of(again)
    assert "Accounts page" in again.text

    bad_schedule = client.post(
        "/connect/import",
        data={"account": "mine", "name": "mine", "every": "5s", "csrf_token": csrf},
    )
    assert bad_schedule.status_code == 422
    assert "an import runs at most once a minute" in bad_schedule.text
    made = client.post(
        "/connect/import",
        data={"account": "mine", "name": "mine-mail", "folders": "INBOX", "every": "manual",
              "csrf_token": csrf},
        follow_redirects=False,
    )  # fmt: skip
    assert made.status_code == 303
    assert made.headers["location"] == "/imports"
    imports = ImportService(app.state.mailmatch.db, workspace_id=alice.workspace_id).list()
    assert [(i.name, i.account) for i in imports] == [("mine-mail", "mine")]

    # The account page: listed, tested, password changed, removed after a confirmation.
    page = text_of(client.get("/accounts"))
    assert "mine" in page and f"localhost:{dovecot.imaps_port}" in page
    assert "test passed" in page
    tested = client.post("/accounts/mine/test", headers=headers)
    assert "works" in tested.text and 'class="fail"' not in tested.text
    changed = client.post("/accounts/mine/password", data={"password": "nope"}, headers=headers)
    assert "the test failed" in text_of(changed)
    assert "nope" not in changed.text.replace("nope\u00a0", "")
    assert "test failed" in text_of(client.get("/accounts"))

    # Bob, in another workspace, cannot reach it.
    bob_client = TestClient(app)
    bob_csrf = sign_in(bob_client, bob.email)
    assert "mine" not in bob_client.get("/accounts").text
    assert bob_client.get("/accounts/mine/remove").status_code == 404
    hit = bob_client.post("/accounts/mine/test", headers={**HX, "X-CSRF-Token": bob_csrf})
    assert hit.status_code == 404
    assert bob_client.get("/connect/import?account=mine").status_code == 404
    assert client.get("/api/v1/accounts/mine", headers=bearer(app, bob)).status_code == 404

    confirm = client.get("/accounts/mine/remove")
    assert "Remove mine?" in confirm.text
    gone = client.post("/accounts/mine/remove", data={"csrf_token": csrf}, follow_redirects=False)
    assert gone.status_code == 303
    assert "No mailbox connected yet" in client.get("/accounts").text


def colon(fingerprint: str) -> str:
    return ":".join(fingerprint[i : i + 2] for i in range(0, 64, 2)).upper()


def test_an_untrusted_certificate_is_shown_then_trusted(
    client: TestClient, alice: UserView, dovecot: Any, smtp_server: Any
) -> None:
    """Without a pin the test CA is unknown: the page shows the certificate, then pins it."""
    csrf = sign_in(client, alice.email)
    headers = {**HX, "X-CSRF-Token": csrf}
    unpinned = custom_form(dovecot, smtp_server, PASSWORD, fingerprint="")

    failed = client.post("/connect/test", data=unpinned, headers=headers)
    text = text_of(failed)
    assert "tls_error" in text
    assert colon(dovecot.fingerprint) in text
    assert "mailmatch test CA" in text and "localhost, 127.0.0.1" in text
    assert text.count("Trust this certificate</button>") == 1  # SMTP shows the same one
    assert "The same certificate as IMAP" in text
    assert f'name="trust" value="{dovecot.fingerprint}"' in text
    assert "If this is your own server" in text and "Proton Mail Bridge on this" not in text
    assert "--cert-fingerprint" not in text and "--ca-file" not in text  # page terms only
    assert PASSWORD not in failed.text

    trusted = client.post(
        "/connect/trust", data={**unpinned, "trust": dovecot.fingerprint}, headers=headers
    )
    text = text_of(trusted)
    assert 'id="custom-servers"' in text and 'name="custom" value="1"' in text
    assert f'value="{dovecot.fingerprint}"' in text
    assert f'value="{dovecot.imaps_port}"' in text  # the servers as typed
    assert 'hx-swap-oob="true"' in text and "Certificate fingerprint" in text
    assert PASSWORD not in trusted.text

    bogus = client.post("/connect/trust", data={**unpinned, "trust": "nope"}, headers=headers)
    assert "not a SHA-256 fingerprint" in text_of(bogus)

    pinned = custom_form(dovecot, smtp_server, PASSWORD, fingerprint=dovecot.fingerprint)
    assert "Both logins work" in text_of(client.post("/connect/test", data=pinned, headers=headers))


WIDER_THAN_SCREEN = """(width) => Array.from(document.querySelectorAll('body *'))
  .filter(e => e.getBoundingClientRect().right > width + 1)
  .filter(e => !e.closest('.table-wrap') && !e.closest('.nav'))
  .map(e => e.tagName.toLowerCase() + '.' + e.className + ' ' + e.getBoundingClientRect().right)"""


def fits(tab: Any) -> None:
    """Nothing on the page is wider than the phone (tables scroll inside their own box)."""
    wider = tab.evaluate(WIDER_THAN_SCREEN, tab.viewport_size["width"])
    assert not wider, wider
    assert tab.evaluate("document.documentElement.scrollWidth") <= tab.viewport_size["width"]


@pytest.mark.browser
def test_wizard_browser(
    app: FastAPI, live_server: Any, page: Any, phone: Any, alice: UserView, dovecot: Any,
    smtp_server: Any, screenshots: Path,
) -> None:  # fmt: skip
    def connect(tab: Any, password: str) -> None:
        tab.goto(f"{live_server.url}/connect")
        tab.fill("#address", USER)
        tab.click("text=Find settings")
        tab.wait_for_selector("text=We could not find settings for example.com")
        tab.fill("#imap_host", "localhost")
        tab.fill("#imap_port", str(dovecot.imaps_port))
        tab.fill("#smtp_host", "localhost")
        tab.fill("#smtp_port", str(smtp_server.ssl_port))
        tab.fill("#fingerprint", dovecot.fingerprint)
        tab.fill("#password", password)
        tab.click("text=Test connection")

    browser_sign_in(page, live_server.url, alice.email)
    connect(page, "not-the-password")
    page.wait_for_selector("text=The connection test failed")
    failed = page.inner_text("#result")
    assert "Authentication failed." in failed  # Dovecot's own words
    assert "Check the username and paste the password again." in failed  # the advice
    assert page.get_attribute("#result .notice.error a", "href") == "/help#trouble-auth_failed"
    page.screenshot(path=str(screenshots / "wizard-failed-laptop.png"), full_page=True)

    page.fill("#password", PASSWORD)
    page.click("text=Test connection")
    page.wait_for_selector("text=Both logins work")
    assert page.locator("#result .checks li.fail").count() == 0
    page.screenshot(path=str(screenshots / "wizard-passed-laptop.png"), full_page=True)
    page.click("text=Save account")
    page.wait_for_selector(f"text={USER} is connected")
    page.screenshot(path=str(screenshots / "wizard-saved-laptop.png"), full_page=True)
    page.click("text=Create import")
    page.wait_for_url(re.compile(r".*/imports$"))
    page.goto(f"{live_server.url}/accounts")
    assert USER in page.inner_text("main")
    page.screenshot(path=str(screenshots / "accounts-laptop.png"), full_page=True)

    browser_sign_in(phone, live_server.url, alice.email)
    connect(phone, "not-the-password")
    phone.wait_for_selector("text=The connection test failed")
    phone.screenshot(path=str(screenshots / "wizard-failed-phone.png"), full_page=True)
    phone.fill("#password", PASSWORD)
    phone.click("text=Test connection")
    phone.wait_for_selector("text=Both logins work")
    phone.screenshot(path=str(screenshots / "wizard-passed-phone.png"), full_page=True)
    fits(phone)
    phone.goto(f"{live_server.url}/accounts")
    phone.screenshot(path=str(screenshots / "accounts-phone.png"), full_page=True)
    phone.goto(f"{live_server.url}/help/providers/gmail")
    phone.screenshot(path=str(screenshots / "help-gmail-phone.png"), full_page=True)
    fits(phone)
    page.goto(f"{live_server.url}/help/providers/gmail")
    page.screenshot(path=str(screenshots / "help-gmail-laptop.png"), full_page=True)


@pytest.mark.browser
def test_wizard_trusts_a_certificate_browser(
    app: FastAPI, live_server: Any, page: Any, phone: Any, alice: UserView, dovecot: Any,
    smtp_server: Any, screenshots: Path,
) -> None:  # fmt: skip
    """No fingerprint typed: the test shows the certificate, one click pins it, the retest passes
    (the button swaps the servers form back with the field filled in: no script of ours)."""

    def connect(tab: Any, shot: str) -> None:
        tab.goto(f"{live_server.url}/connect")
        tab.fill("#address", USER)
        tab.click("text=Find settings")
        tab.wait_for_selector("text=We could not find settings for example.com")
        tab.fill("#imap_host", "localhost")
        tab.fill("#imap_port", str(dovecot.imaps_port))
        tab.fill("#smtp_host", "localhost")
        tab.fill("#smtp_port", str(smtp_server.ssl_port))
        tab.fill("#password", PASSWORD)
        tab.click("text=Test connection")
        tab.wait_for_selector("text=The certificate the server presented")
        shown = tab.inner_text("#result")
        assert colon(dovecot.fingerprint) in shown
        assert "mailmatch test CA" in shown
        assert "--cert-fingerprint" not in shown
        tab.screenshot(path=str(screenshots / f"wizard-certificate-{shot}.png"), full_page=True)
        tab.click("button:has-text('Trust this certificate')")
        tab.wait_for_selector("text=The certificate's fingerprint is now in")
        assert tab.input_value("#fingerprint") == dovecot.fingerprint
        assert tab.input_value("#password") == PASSWORD  # still typed: not sent back
        tab.screenshot(path=str(screenshots / f"wizard-trusted-{shot}.png"), full_page=True)
        tab.click("text=Test connection")
        tab.wait_for_selector("text=Both logins work")
        assert tab.locator("#result .checks li.fail").count() == 0

    browser_sign_in(page, live_server.url, alice.email)
    connect(page, "laptop")
    page.click("text=Save account")
    page.wait_for_selector(f"text={USER} is connected")
    page.goto(f"{live_server.url}/accounts")
    assert dovecot.fingerprint in page.inner_text("main")  # the pinned certificate

    browser_sign_in(phone, live_server.url, alice.email)
    connect(phone, "phone")
    fits(phone)


@pytest.fixture
def name_only_servers(certs: Any) -> Iterator[tuple[Any, Any]]:
    """IMAPS and SMTPS on 127.0.0.1 presenting a CA-signed certificate for ``localhost`` only:
    what a home server looks like when it is typed by address instead of by name."""
    context = server_context(certs.name_only_cert, certs.name_only_key)
    with TLSServer(certs.name_only_cert, certs.name_only_key) as imap:
        smtp = ScriptedSMTP(tls_context=context).start()
        try:
            yield imap, smtp
        finally:
            smtp.stop()


def page_height(tab: Any) -> int:
    height: int = tab.evaluate("document.documentElement.scrollHeight")
    return height


@pytest.mark.browser
def test_a_certificate_for_another_name_is_one_failure_per_server_browser(
    live_server: Any, page: Any, phone: Any, alice: UserView, name_only_servers: Any,
    screenshots: Path,
) -> None:  # fmt: skip
    """127.0.0.1 typed, a certificate for localhost presented: each server shows one failed
    step (TLS, not "Connect"), the certificate once with the names it is valid for, and one
    thing to do; no port the user did not type is tried, and the page stays short."""
    imap, smtp = name_only_servers

    def connect(tab: Any) -> str:
        tab.goto(f"{live_server.url}/connect")
        tab.fill("#address", USER)
        tab.click("text=Find settings")
        tab.wait_for_selector("text=We could not find settings for example.com")
        tab.fill("#imap_host", "127.0.0.1")
        tab.fill("#imap_port", str(imap.port))
        tab.fill("#smtp_host", "127.0.0.1")
        tab.fill("#smtp_port", str(smtp.port))
        tab.fill("#password", PASSWORD)
        tab.click("text=Test connection")
        tab.wait_for_selector("text=The connection test failed")
        return str(tab.inner_text("#result"))

    browser_sign_in(page, live_server.url, alice.email)
    shown = connect(page)
    page.screenshot(path=str(screenshots / "wizard-tls-name-laptop.png"), full_page=True)
    failed = page.locator("#result .checks li.fail")
    assert failed.count() == 2  # one per server
    assert page.locator("#result .checks li.fail .step-label").all_inner_texts() == [
        "Secure connection (TLS)", "Secure connection (TLS)"
    ]  # fmt: skip
    assert page.locator("#result .checks li.skip").count() == 2  # one "not reached" each
    assert page.locator("#result .checks li.pass .step-label").all_inner_texts() == [
        "Connect", "Connect"
    ]  # fmt: skip  # TCP worked: the handshake is what failed
    assert "Also tried" not in shown and ":587" not in shown and ":465" not in shown
    assert shown.count("The certificate the server presented") == 1
    assert "Valid for\nlocalhost" in shown or "Valid for\tlocalhost" in shown
    assert "localhost" in page.locator("#result .check-card .notice.error").first.inner_text()
    assert "Proton Mail Bridge" not in shown  # not Bridge's ports
    assert page.locator("button:has-text('Trust this certificate')").count() == 1
    # Before: the result was 1,348 px of a 2,627 px page (laptop), 3,260 px of 5,348 (phone).
    result_height = page.evaluate("document.querySelector('#result').offsetHeight")
    assert result_height < 950, result_height
    assert page_height(page) < 2200, page_height(page)

    browser_sign_in(phone, live_server.url, alice.email)
    connect(phone)
    phone.screenshot(path=str(screenshots / "wizard-tls-name-phone.png"), full_page=True)
    fits(phone)
    result_height = phone.evaluate("document.querySelector('#result').offsetHeight")
    assert result_height < 2000, result_height  # 1,731 px
    assert page_height(phone) < 4200, page_height(phone)
