"""Turn a failed connection step into a diagnosis the user can act on.

Classification order for a refused login, as the server's words are the best evidence:

1. A known provider text (the provider's own ``known_errors`` first, then every provider's):
   these carry meaning no standard code does ("Application-specific password required",
   "You are yet to enable IMAP", "basic authentication is disabled").
2. The RFC 5530 response code in brackets (IMAP) or the RFC 4954/3463 reply code (SMTP).
   ``[CONTACTADMIN]`` is not a wrong password: RFC 5530 says the user must contact the
   provider, and the credentials may well be right, so it has its own code, ``account_blocked``.
3. What we know of the provider: a generic refusal at a provider that requires app passwords,
   for a password that does not look like one, is most likely the account password.

Transport failures (DNS, refused, timeout, TLS) are classified from the exception type.
"""

from __future__ import annotations

import re
import socket
import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mailmatch.errors import Code, Diagnosis
from mailmatch.providers.models import AppPasswordPolicy, Protocol, Provider, Security, Server

if TYPE_CHECKING:
    from mailmatch.accounts.advice import Surface
    from mailmatch.accounts.certificate import PeerCertificate

# RFC 5530 IMAP response codes (and the RFC 3501 ones that matter here).
IMAP_RESPONSE_CODES: dict[str, Code] = {
    "AUTHENTICATIONFAILED": Code.AUTH_FAILED,
    "AUTHORIZATIONFAILED": Code.AUTH_FAILED,
    "EXPIRED": Code.AUTH_FAILED,
    "CONTACTADMIN": Code.ACCOUNT_BLOCKED,
    "NOPERM": Code.AUTH_FAILED,
    "PRIVACYREQUIRED": Code.TLS_ERROR,
    "UNAVAILABLE": Code.RATE_LIMITED,
    "LIMIT": Code.RATE_LIMITED,
    "OVERQUOTA": Code.RATE_LIMITED,
    "THROTTLED": Code.RATE_LIMITED,
    "INUSE": Code.RATE_LIMITED,
    "SERVERBUG": Code.SERVER_ERROR,
    "CORRUPTION": Code.SERVER_ERROR,
}

# Provider-independent texts, checked after the provider catalog's own known errors.
GENERIC_TEXTS: tuple[tuple[str, Code], ...] = (
    ("application-specific password", Code.APP_PASSWORD_REQUIRED),
    ("app password", Code.APP_PASSWORD_REQUIRED),
    ("not enabled for imap", Code.IMAP_DISABLED),
    ("imap access is disabled", Code.IMAP_DISABLED),
    ("imap access disabled", Code.IMAP_DISABLED),
    ("imap is disabled", Code.IMAP_DISABLED),
    ("enable imap", Code.IMAP_DISABLED),
    ("imap disabled", Code.IMAP_DISABLED),
    ("basicauthblocked", Code.OAUTH_REQUIRED),
    ("basic authentication is disabled", Code.OAUTH_REQUIRED),
    ("too many", Code.RATE_LIMITED),
    ("rate limit", Code.RATE_LIMITED),
    ("try again later", Code.RATE_LIMITED),
    ("temporar", Code.RATE_LIMITED),
)

_CODE_RE = re.compile(r"\[([A-Z][A-Z0-9-]*)(?:[ \]])")


def response_code(text: str) -> str | None:
    """The bracketed IMAP response code of a server reply, e.g. ``AUTHENTICATIONFAILED``."""
    match = _CODE_RE.search(text)
    return match.group(1) if match else None


def _smtp_code(reply_code: int) -> Code | None:
    if reply_code == 534:  # RFC 4954 "mechanism too weak"; Gmail uses it for app passwords
        return Code.APP_PASSWORD_REQUIRED
    if reply_code in (535, 530, 500, 501, 504):
        return Code.AUTH_FAILED
    if reply_code == 538:
        return Code.TLS_ERROR
    if reply_code in (421, 450, 451, 452, 454):
        return Code.RATE_LIMITED
    return None


@dataclass
class AuthContext:
    """What we know about a login attempt besides the server's reply."""

    protocol: Protocol
    provider: Provider | None
    server: Server
    password_looks_like_app_password: bool | None = None
    ever_worked: bool = False


def _words(text: str) -> str:
    """Server text for matching: lower case, ``_`` read as a space.

    Servers write machine-style words too (``[CONTACTADMIN] IMAP_access_disabled``): those must
    match the same patterns as "IMAP access disabled".
    """
    return text.lower().replace("_", " ")


def classify_auth_text(
    ctx: AuthContext, text: str, reply_code: int | None = None
) -> tuple[Code, str]:
    """Returns the code and what decided it (kept for the user and for debugging)."""
    lowered = _words(text)
    if ctx.provider is not None:
        for known in ctx.provider.known_errors:
            if known.protocol is ctx.protocol and _words(known.match) in lowered:
                return _refine(ctx, Code(known.code)), f"{ctx.provider.name}: {known.meaning}"
    for needle, code in GENERIC_TEXTS:
        if needle in lowered:
            return code, f"server text mentions '{needle}'"
    if ctx.protocol is Protocol.IMAP:
        rcode = response_code(text)
        if rcode in IMAP_RESPONSE_CODES:
            code = IMAP_RESPONSE_CODES[rcode]
            return _refine(ctx, code), f"response code [{rcode}]"
    elif reply_code is not None:
        smtp = _smtp_code(reply_code)
        if smtp is not None:
            return _refine(ctx, smtp), f"reply code {reply_code}"
    return _refine(ctx, Code.AUTH_FAILED), "login refused"


def _refine(ctx: AuthContext, code: Code) -> Code:
    """A bare "invalid credentials" from a provider that only takes app passwords."""
    if code is not Code.AUTH_FAILED or ctx.provider is None:
        return code
    policy = ctx.provider.app_password.policy
    if policy is AppPasswordPolicy.NOT_SUPPORTED:
        return Code.OAUTH_REQUIRED
    if ctx.ever_worked:
        return code
    if (
        policy in (AppPasswordPolicy.REQUIRED, AppPasswordPolicy.WITH_2FA)
        and ctx.password_looks_like_app_password is False
    ):
        return Code.APP_PASSWORD_REQUIRED
    return code


def classify_exception(exc: BaseException) -> tuple[Code, str]:
    """Transport-level failures, before any login: DNS, TCP, TLS, timeouts."""
    if isinstance(exc, socket.gaierror):
        return Code.HOST_NOT_FOUND, str(exc.strerror or exc)
    if isinstance(exc, ConnectionRefusedError):
        return Code.CONNECTION_REFUSED, str(exc.strerror or exc)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return Code.TLS_ERROR, str(exc.verify_message or exc)
    if isinstance(exc, ssl.SSLError):
        return Code.TLS_ERROR, str(getattr(exc, "reason", None) or exc)
    if isinstance(exc, TimeoutError | socket.timeout):
        return Code.TIMEOUT, "no answer from the server in time"
    if isinstance(exc, ConnectionResetError | BrokenPipeError | EOFError):
        return Code.SERVER_ERROR, "the server closed the connection"
    if isinstance(exc, OSError) and exc.strerror:
        return Code.CONNECTION_REFUSED, exc.strerror
    return Code.SERVER_ERROR, str(exc) or type(exc).__name__


MESSAGES: dict[Code, str] = {
    Code.AUTH_FAILED: "The server refused the username or password.",
    Code.APP_PASSWORD_REQUIRED: "This account needs an app-specific password, not its main one.",
    Code.IMAP_DISABLED: "IMAP access is switched off for this mailbox.",
    Code.OAUTH_REQUIRED: "This provider no longer accepts passwords over IMAP/SMTP.",
    Code.HOST_NOT_FOUND: "The server name does not exist.",
    Code.CONNECTION_REFUSED: "Nothing accepted the connection on that port.",
    Code.TIMEOUT: "The server did not answer in time.",
    Code.TLS_ERROR: "The secure (TLS) connection could not be set up.",
    Code.RATE_LIMITED: "The server is limiting logins or connections right now.",
    Code.SERVER_ERROR: "The server failed in an unexpected way.",
    Code.ACCOUNT_BLOCKED: "The provider has blocked this account or its IMAP access; the "
    "password may well be right.",
}


def diagnose(
    code: Code,
    *,
    protocol: Protocol,
    server: Server,
    provider: Provider | None,
    server_text: str | None,
    why: str | None = None,
    tls_detail: str | None = None,
    certificate: PeerCertificate | None = None,
    surface: Surface | None = None,
) -> Diagnosis:
    """The diagnosis with its advice; ``certificate`` is what the server presented (TLS only),
    ``surface`` where the advice will be read (the CLI unless said otherwise)."""
    from mailmatch.accounts.advice import Surface, advice_for

    message = MESSAGES[code]
    if why and code in (Code.TLS_ERROR, Code.HOST_NOT_FOUND, Code.CONNECTION_REFUSED):
        message = f"{message} ({why})"
    return Diagnosis(
        code=code,
        message=message,
        server_text=server_text,
        advice=advice_for(
            code,
            protocol=protocol,
            server=server,
            provider=provider,
            tls_detail=tls_detail,
            certificate=certificate,
            surface=surface or Surface.CLI,
        ),
        certificate=certificate,
    )


def tls_hint(server: Server, detail: str) -> str | None:
    """Why a TLS handshake failed, in terms of what to change."""
    low = detail.lower()
    if "wrong_version_number" in low or "wrong version number" in low or "record layer" in low:
        if server.security is Security.SSL:
            return "wrong_mode_ssl"
        return "not_tls"
    if "expired" in low:
        return "expired"
    if "self-signed" in low or "self signed" in low or "unable to get local issuer" in low:
        return "untrusted"
    if (
        "hostname mismatch" in low
        or "ip address mismatch" in low
        or "doesn't match" in low
        or "certificate is not valid for" in low
    ):
        return "hostname"
    if "fingerprint" in low:
        return "fingerprint"
    return None
