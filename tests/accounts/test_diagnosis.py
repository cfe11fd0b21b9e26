"""Server replies are classified by provider text first, then by RFC 5530 / RFC 4954 codes."""

from __future__ import annotations

import socket
import ssl

import pytest

from mailmatch.accounts.diagnosis import (
    AuthContext,
    classify_auth_text,
    classify_exception,
    response_code,
    tls_hint,
)
from mailmatch.errors import Code
from mailmatch.providers.catalog import load_catalog
from mailmatch.providers.models import Protocol, Security, Server

IMAPS = Server("imap.example.com", 993, Security.SSL)


def ctx(provider_id: str | None = None, **kw: object) -> AuthContext:
    provider = load_catalog().get(provider_id) if provider_id else None
    return AuthContext(protocol=Protocol.IMAP, provider=provider, server=IMAPS, **kw)  # type: ignore[arg-type]


def smtp_ctx(provider_id: str | None = None) -> AuthContext:
    provider = load_catalog().get(provider_id) if provider_id else None
    return AuthContext(protocol=Protocol.SMTP, provider=provider, server=IMAPS)


@pytest.mark.parametrize(
    ("provider", "text", "code"),
    [
        (
            "gmail",
            "[ALERT] Application-specific password required: "
            "https://support.google.com/accounts/answer/185833 (Failure)",
            Code.APP_PASSWORD_REQUIRED,
        ),
        (
            "zoho",
            "[ALERT] You are yet to enable IMAP for your account. "
            "Please contact your administrator (Failure)",
            Code.IMAP_DISABLED,
        ),
        (
            "outlook_com",
            "[AUTHENTICATIONFAILED] AuthFailed:LogonDenied-BasicAuthBlocked-<UserType:OutlookCom>",
            Code.OAUTH_REQUIRED,
        ),
        ("yahoo", "[LIMIT] CAPABILITY Rate limit hit.", Code.RATE_LIMITED),
        (None, "[UNAVAILABLE] Temporary authentication failure", Code.RATE_LIMITED),
        (None, "[AUTHENTICATIONFAILED] Authentication failed.", Code.AUTH_FAILED),
        (None, "[ALERT] IMAP access is disabled for your domain.", Code.IMAP_DISABLED),
    ],
)
def test_imap_login_replies(provider: str | None, text: str, code: Code) -> None:
    assert classify_auth_text(ctx(provider), text)[0] is code


def test_generic_refusal_with_a_non_app_password_at_icloud_means_app_password_required() -> None:
    text = "[AUTHENTICATIONFAILED] Authentication failed"
    looks_wrong = ctx("icloud", password_looks_like_app_password=False)
    looks_right = ctx("icloud", password_looks_like_app_password=True)
    assert classify_auth_text(looks_wrong, text)[0] is Code.APP_PASSWORD_REQUIRED
    assert classify_auth_text(looks_right, text)[0] is Code.AUTH_FAILED


def test_outlook_refusals_always_mean_passwords_are_off() -> None:
    assert classify_auth_text(ctx("outlook_com"), "LOGIN failed.")[0] is Code.OAUTH_REQUIRED


@pytest.mark.parametrize(
    ("provider", "reply", "text", "code"),
    [
        (
            "gmail",
            534,
            "5.7.9 Application-specific password required. Learn more at "
            "https://support.google.com/mail/?p=InvalidSecondFactor",
            Code.APP_PASSWORD_REQUIRED,
        ),
        ("gmail", 535, "5.7.8 Username and Password not accepted.", Code.AUTH_FAILED),
        ("yahoo", 535, "5.7.0 (#AUTH005) Too many bad auth attempts.", Code.APP_PASSWORD_REQUIRED),
        (None, 454, "4.7.0 Temporary authentication failure", Code.RATE_LIMITED),
        (None, 535, "5.7.8 Authentication credentials invalid", Code.AUTH_FAILED),
    ],
)
def test_smtp_auth_replies(provider: str | None, reply: int, text: str, code: Code) -> None:
    assert classify_auth_text(smtp_ctx(provider), f"{reply} {text}", reply)[0] is code


def test_response_code_is_read_from_brackets() -> None:
    assert response_code("[AUTHENTICATIONFAILED] Authentication failed.") == "AUTHENTICATIONFAILED"
    assert response_code("[WEBALERT https://x] Web login required.") == "WEBALERT"
    assert response_code("LOGIN failed.") is None


def test_transport_failures() -> None:
    assert classify_exception(socket.gaierror(-2, "Name or service not known"))[0] is (
        Code.HOST_NOT_FOUND
    )
    assert classify_exception(ConnectionRefusedError(111, "Connection refused"))[0] is (
        Code.CONNECTION_REFUSED
    )
    assert classify_exception(TimeoutError("timed out"))[0] is Code.TIMEOUT
    assert classify_exception(ssl.SSLError(1, "[SSL] record layer failure"))[0] is Code.TLS_ERROR


def test_tls_hints() -> None:
    assert tls_hint(IMAPS, "[SSL: WRONG_VERSION_NUMBER] wrong version number") == "wrong_mode_ssl"
    assert tls_hint(IMAPS, "certificate has expired") == "expired"
    assert tls_hint(IMAPS, "self-signed certificate") == "untrusted"


def test_a_certificate_for_another_address_is_a_name_mismatch() -> None:
    """Python's words when 127.0.0.1 is typed and the certificate is for ``localhost``."""
    text = "IP address mismatch, certificate is not valid for '127.0.0.1'."
    assert tls_hint(Server("127.0.0.1", 993, Security.SSL), text) == "hostname"
    assert tls_hint(IMAPS, "Hostname mismatch, certificate is not valid for 'x'.") == "hostname"


def test_contactadmin_means_the_account_is_blocked_not_a_wrong_password() -> None:
    """RFC 5530: [CONTACTADMIN] says to contact the provider; the password may be right, so it
    is not auth_failed, and not turned into app_password_required at an app-password provider."""
    text = "[CONTACTADMIN] Your account has been locked. Please contact support."
    assert classify_auth_text(ctx(), text)[0] is Code.ACCOUNT_BLOCKED
    icloud = ctx("icloud", password_looks_like_app_password=False)
    assert classify_auth_text(icloud, text)[0] is Code.ACCOUNT_BLOCKED


def test_server_words_with_underscores_read_as_words() -> None:
    assert classify_auth_text(ctx(), "[CONTACTADMIN] IMAP_access_disabled")[0] is (
        Code.IMAP_DISABLED
    )
    assert classify_auth_text(ctx(), "NO IMAP_DISABLED for this user")[0] is Code.IMAP_DISABLED
