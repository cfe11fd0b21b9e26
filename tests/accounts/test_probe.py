"""The connection test against real servers: every failure a local server can produce, for real.

Dovecot and aiosmtpd are started once per session by ``tests/conftest.py``; provider texts that
no local server produces are replayed by the scripted servers.
"""

from __future__ import annotations

import ssl
from typing import Any

import pytest
from imapclient import IMAPClient

from mailmatch.accounts.probe import probe_imap, probe_smtp, smtp_fallbacks
from mailmatch.accounts.tls import TlsOptions
from mailmatch.errors import Code
from mailmatch.imap.session import Credentials, ProbeContext
from mailmatch.providers.catalog import load_catalog
from mailmatch.providers.models import Provider, Security, Server

USER, PASSWORD = "user@example.com", "abcd-efgh-ijkl-mnop"


def context(ca_file: str | None, provider: Provider | None = None, **kw: Any) -> ProbeContext:
    return ProbeContext(provider=provider, tls=TlsOptions(ca_file=ca_file), timeout=5, **kw)


def test_imaps_login_lists_and_examines_inbox_without_changing_it(dovecot: Any) -> None:
    dovecot.deliver(USER, b"Subject: unread\r\nMessage-ID: <probe-1@test>\r\n\r\nhello\r\n")
    server = Server(dovecot.host, dovecot.imaps_port, Security.SSL)

    result = probe_imap(server, Credentials(USER, PASSWORD), context(dovecot.ca_file))

    assert result.ok, result.to_json()
    assert [s.name for s in result.steps] == [
        "connect",
        "tls",
        "login",
        "capabilities",
        "list",
        "select",
    ]
    assert "INBOX" in result.folders and "Sent" in result.folders
    with IMAPClient(dovecot.host, port=dovecot.imaps_port, ssl_context=_trust(dovecot)) as c:
        c.login(USER, PASSWORD)
        c.select_folder("INBOX", readonly=True)
        flags = c.get_flags(c.search(["ALL"]))
    assert all(b"\\Seen" not in f for f in flags.values())


def test_starttls_login(dovecot: Any) -> None:
    server = Server(dovecot.host, dovecot.imap_port, Security.STARTTLS)
    result = probe_imap(server, Credentials(USER, PASSWORD), context(dovecot.ca_file))
    assert result.ok, result.to_json()


def test_wrong_password_is_auth_failed_with_dovecots_words(dovecot: Any) -> None:
    server = Server(dovecot.host, dovecot.imaps_port, Security.SSL)
    result = probe_imap(server, Credentials(USER, "wrong-password"), context(dovecot.ca_file))
    assert result.diagnosis is not None
    assert result.diagnosis.code is Code.AUTH_FAILED
    assert result.diagnosis.server_text is not None
    assert "[AUTHENTICATIONFAILED]" in result.diagnosis.server_text
    assert [s.name for s in result.steps if not s.ok] == ["login"]


def test_user_with_imap_switched_off(dovecot: Any) -> None:
    server = Server(dovecot.host, dovecot.imaps_port, Security.SSL)
    user = "noimap@example.com"
    result = probe_imap(server, Credentials(user, dovecot.users[user]), context(dovecot.ca_file))
    assert result.diagnosis is not None
    assert result.diagnosis.code is Code.IMAP_DISABLED, result.to_json()


def test_closed_port_is_connection_refused() -> None:
    from tests.servers.tcp import closed_port

    server = Server("localhost", closed_port(), Security.SSL)
    result = probe_imap(server, Credentials(USER, PASSWORD), context(None))
    assert result.diagnosis is not None and result.diagnosis.code is Code.CONNECTION_REFUSED
    assert any("993" in line for line in result.diagnosis.advice)


def test_unresolvable_host() -> None:
    server = Server("imap.nonexistent.invalid", 993, Security.SSL)
    result = probe_imap(server, Credentials(USER, PASSWORD), context(None))
    assert result.diagnosis is not None and result.diagnosis.code is Code.HOST_NOT_FOUND


def test_implicit_tls_against_a_starttls_port(dovecot: Any) -> None:
    server = Server(dovecot.host, dovecot.imap_port, Security.SSL)
    result = probe_imap(server, Credentials(USER, PASSWORD), context(dovecot.ca_file))
    assert result.diagnosis is not None and result.diagnosis.code is Code.TLS_ERROR
    assert any("STARTTLS port" in line for line in result.diagnosis.advice)


def test_untrusted_self_signed_certificate_then_pinned(dovecot: Any) -> None:
    server = Server(dovecot.host, dovecot.imaps_port, Security.SSL)
    untrusted = probe_imap(server, Credentials(USER, PASSWORD), context(None))
    assert untrusted.diagnosis is not None and untrusted.diagnosis.code is Code.TLS_ERROR
    assert any("--ca-file" in line for line in untrusted.diagnosis.advice)

    pinned = ProbeContext(provider=None, tls=TlsOptions(fingerprint=dovecot.fingerprint), timeout=5)
    assert probe_imap(server, Credentials(USER, PASSWORD), pinned).ok
    wrong_pin = ProbeContext(provider=None, tls=TlsOptions(fingerprint="00" * 32), timeout=5)
    mismatch = probe_imap(server, Credentials(USER, PASSWORD), wrong_pin)
    assert mismatch.diagnosis is not None and mismatch.diagnosis.code is Code.TLS_ERROR
    assert not any(s.name == "login" for s in mismatch.steps)  # no password sent


def test_expired_certificate(expired_tls_server: Any, certs: Any) -> None:
    server = Server("localhost", expired_tls_server.port, Security.SSL)
    result = probe_imap(server, Credentials(USER, PASSWORD), context(str(certs.ca_file)))
    assert result.diagnosis is not None and result.diagnosis.code is Code.TLS_ERROR
    assert any("expired" in line for line in result.diagnosis.advice)


def test_silent_server_times_out(silent_server: Any) -> None:
    server = Server("localhost", silent_server.port, Security.STARTTLS)
    ctx = ProbeContext(provider=None, tls=TlsOptions(), timeout=0.5)
    result = probe_imap(server, Credentials(USER, PASSWORD), ctx)
    assert result.diagnosis is not None and result.diagnosis.code is Code.TIMEOUT


def test_gmail_asks_for_an_app_password(scripted_imap: Any) -> None:
    gmail = load_catalog().get("gmail")
    reply = (
        "NO [ALERT] Application-specific password required: "
        "https://support.google.com/accounts/answer/185833 (Failure)"
    )
    fake = scripted_imap(login_reply=reply)
    server = Server("localhost", fake.port, Security.PLAIN)
    result = probe_imap(server, Credentials("me@gmail.com", "hunter2hunter2"), context(None, gmail))
    assert result.diagnosis is not None
    assert result.diagnosis.code is Code.APP_PASSWORD_REQUIRED
    assert result.diagnosis.server_text is not None
    assert "Application-specific password required" in result.diagnosis.server_text
    assert any("myaccount.google.com/apppasswords" in a for a in result.diagnosis.advice)


def test_zoho_imap_not_enabled(scripted_imap: Any) -> None:
    zoho = load_catalog().get("zoho")
    assert zoho is not None and zoho.imap_switch is not None
    reply = (
        "NO [ALERT] You are yet to enable IMAP for your account. "
        "Please contact your administrator (Failure)"
    )
    fake = scripted_imap(login_reply=reply)
    server = Server("localhost", fake.port, Security.PLAIN)
    result = probe_imap(server, Credentials("me@zoho.com", "abcdefghijkl"), context(None, zoho))
    assert result.diagnosis is not None and result.diagnosis.code is Code.IMAP_DISABLED
    assert any(zoho.imap_switch.where in a for a in result.diagnosis.advice)


def test_smtp_over_implicit_tls_and_starttls_sends_nothing(smtp_server: Any) -> None:
    creds = Credentials(USER, PASSWORD)
    for port, security in (
        (smtp_server.ssl_port, Security.SSL),
        (smtp_server.starttls_port, Security.STARTTLS),
    ):
        result = probe_smtp(
            Server("localhost", port, security), creds, context(smtp_server.ca_file)
        )
        assert result.ok, result.to_json()
        assert "AUTH" in result.capabilities
    assert smtp_server.received == []


def test_smtp_wrong_password_is_one_refused_attempt(smtp_server: Any) -> None:
    server = Server("localhost", smtp_server.ssl_port, Security.SSL)
    attempts = len(smtp_server.auth_attempts)
    result = probe_smtp(server, Credentials(USER, "nope"), context(smtp_server.ca_file))
    assert len(smtp_server.auth_attempts) == attempts + 1
    assert result.diagnosis is not None and result.diagnosis.code is Code.AUTH_FAILED
    assert result.diagnosis.server_text is not None
    assert result.diagnosis.server_text.startswith("535")


def test_smtp_falls_back_to_the_other_port_and_says_which_works(smtp_server: Any) -> None:
    from tests.servers.tcp import closed_port

    broken = Server("localhost", closed_port(), Security.SSL)
    working = Server("localhost", smtp_server.starttls_port, Security.STARTTLS)
    result = probe_smtp(
        broken, Credentials(USER, PASSWORD), context(smtp_server.ca_file), fallbacks=[working]
    )
    assert not result.ok
    assert result.working_server == working
    assert result.diagnosis is not None
    assert f"--smtp-port {working.port}" in result.diagnosis.advice[0]


def test_smtp_does_not_try_another_port_after_a_refused_login(smtp_server: Any) -> None:
    server = Server("localhost", smtp_server.ssl_port, Security.SSL)
    other = Server("localhost", smtp_server.starttls_port, Security.STARTTLS)
    result = probe_smtp(
        server, Credentials(USER, "nope"), context(smtp_server.ca_file), fallbacks=[other]
    )
    assert result.alternative is None


def test_gmail_smtp_534(scripted_smtp: Any) -> None:
    gmail = load_catalog().get("gmail")
    fake = scripted_smtp(
        auth_reply=(
            "534-5.7.9 Application-specific password required. Learn more at\r\n"
            "534 5.7.9  https://support.google.com/mail/?p=InvalidSecondFactor"
        )
    )
    server = Server("localhost", fake.port, Security.PLAIN)
    result = probe_smtp(server, Credentials("me@gmail.com", "hunter2"), context(None, gmail))
    assert result.diagnosis is not None
    assert result.diagnosis.code is Code.APP_PASSWORD_REQUIRED


def test_standard_fallback_ports() -> None:
    fallbacks = smtp_fallbacks(Server("smtp.example.com", 465, Security.SSL), None)
    assert fallbacks == [Server("smtp.example.com", 587, Security.STARTTLS)]


def _trust(dovecot: Any) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(dovecot.ca_file))


pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


def test_a_refused_imap_password_is_not_tried_again_on_smtp(
    tmp_path: Any, dovecot: Any, smtp_server: Any
) -> None:
    from mailmatch.accounts.service import AccountService
    from mailmatch.config import load_settings

    service = AccountService.open(load_settings({"MAILMATCH_HOME": str(tmp_path)}))
    attempts = len(smtp_server.auth_attempts)
    ctx = context(dovecot.ca_file)
    result = service.run_test(
        Server(dovecot.host, dovecot.imaps_port, Security.SSL),
        Server("localhost", smtp_server.ssl_port, Security.SSL),
        USER,
        USER,
        "wrong-password",
        ctx,
    )
    assert result.imap.diagnosis is not None and result.smtp.diagnosis is not None
    assert result.smtp.diagnosis.code is Code.AUTH_FAILED
    assert "Not tried" in result.smtp.diagnosis.message
    assert len(smtp_server.auth_attempts) == attempts


def test_a_blocked_account_is_told_to_contact_the_provider(scripted_imap: Any) -> None:
    """[CONTACTADMIN] from a real IMAP exchange: its own code, and advice about the account,
    not "paste the password again"."""
    gmx = load_catalog().get("gmx")
    assert gmx is not None and gmx.imap_switch is not None
    fake = scripted_imap(login_reply="NO [CONTACTADMIN] Account locked, contact support")
    server = Server("localhost", fake.port, Security.PLAIN)
    result = probe_imap(server, Credentials("me@gmx.net", "right-password"), context(None, gmx))
    d = result.diagnosis
    assert d is not None and d.code is Code.ACCOUNT_BLOCKED and str(d.code) == "account_blocked"
    assert d.server_text is not None and "Account locked" in d.server_text
    advice = " ".join(d.advice)
    assert "paste the password again" not in advice.lower()
    assert "GMX's support" in advice and "GMX's webmail" in advice
    assert gmx.imap_switch.where in advice
    assert not d.retryable
