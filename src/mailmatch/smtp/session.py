"""Open an authenticated SMTP session, or explain exactly why not.

The SMTP counterpart of :mod:`mailmatch.imap.session`: one code path serves the connection test
and sending mail, so a message that cannot be sent fails with the same diagnosis, in the same
words, as ``mailmatch accounts test``. Connect (implicit TLS or plaintext), EHLO, STARTTLS when
the account says so (certificate verified against the account's CA file, or pinned), one AUTH
exchange with one mechanism (never retried).
"""

from __future__ import annotations

import smtplib
import ssl
from typing import NoReturn

from mailmatch.accounts.diagnosis import diagnose
from mailmatch.errors import Code, Diagnosis
from mailmatch.imap.session import (
    Credentials,
    ProbeContext,
    SessionError,
    Step,
    fail_auth,
    fail_tls,
    fail_transport,
    tls_version,
)
from mailmatch.providers.models import Protocol, Security, Server

LOCAL_HOSTNAME = "mailmatch.localdomain"


class SmtpSessionError(SessionError):
    """A failed SMTP step; ``reply_code`` is the server's reply code when a reply failed it."""

    def __init__(
        self,
        diagnosis: Diagnosis,
        step: str,
        detail: str,
        classified_by: str | None = None,
        reply_code: int | None = None,
    ) -> None:
        super().__init__(diagnosis, step, detail, classified_by)
        self.reply_code = reply_code


def _with_code(error: SessionError, reply_code: int | None = None) -> SmtpSessionError:
    return SmtpSessionError(
        error.diagnosis, error.step, error.detail, error.classified_by, reply_code
    )


def reply_text(code: int, error: bytes | str) -> str:
    """The server's reply as the user should see it: ``535 5.7.8 Authentication ...``."""
    text = error.decode("utf-8", "replace") if isinstance(error, bytes) else str(error)
    return f"{code} {text}"


def fail_reply(
    server: Server, ctx: ProbeContext, code: int, text: str, step: str
) -> SmtpSessionError:
    """A reply that failed a step outside the login: 4xx is temporary (may pass later), 5xx not."""
    diagnosis = diagnose(
        Code.RATE_LIMITED if 400 <= code < 500 else Code.SERVER_ERROR,
        protocol=Protocol.SMTP,
        server=server,
        provider=ctx.provider,
        server_text=text,
        surface=ctx.surface,
    )
    return SmtpSessionError(diagnosis, step, text, reply_code=code)


def transport_error(
    server: Server, exc: BaseException, ctx: ProbeContext, step: str
) -> SmtpSessionError:
    """A failure below the protocol (closed, silent, TLS); smtplib's "disconnected" is a reset."""
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        exc = ConnectionResetError(str(exc) or "the server closed the connection")
    return _with_code(fail_transport(Protocol.SMTP, server, exc, ctx, step))


def login(smtp: smtplib.SMTP, creds: Credentials) -> None:
    """One AUTH exchange with one mechanism.

    ``smtplib.SMTP.login`` tries every mechanism the server offers until one succeeds, so a
    wrong password would count as two or three failed logins at the provider (Yahoo locks
    accounts after "Too many bad auth attempts"). PLAIN is preferred: every server on TLS has it.
    """
    offered = smtp.esmtp_features.get("auth", "").upper().split()
    mechanism = next((m for m in ("PLAIN", "LOGIN") if m in offered), None)
    if mechanism is None:
        raise smtplib.SMTPNotSupportedError("no AUTH PLAIN or LOGIN offered")
    smtp.user, smtp.password = creds.username, creds.password
    authobject = smtp.auth_plain if mechanism == "PLAIN" else smtp.auth_login
    smtp.auth(mechanism, authobject, initial_response_ok=True)


def close(smtp: smtplib.SMTP) -> None:
    """QUIT politely; drop the connection when the server is already gone."""
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        smtp.close()


def _connect(server: Server, ctx: ProbeContext, ssl_context: ssl.SSLContext) -> smtplib.SMTP:
    if server.security is Security.SSL:
        return smtplib.SMTP_SSL(
            server.host,
            server.port,
            local_hostname=LOCAL_HOSTNAME,
            timeout=ctx.timeout,
            context=ssl_context,
        )
    return smtplib.SMTP(
        server.host, server.port, local_hostname=LOCAL_HOSTNAME, timeout=ctx.timeout
    )


def open_smtp(
    server: Server,
    creds: Credentials,
    ctx: ProbeContext,
    steps: list[Step] | None = None,
    capabilities: list[str] | None = None,
) -> smtplib.SMTP:
    """A logged-in session; raises :class:`SmtpSessionError` with the diagnosis otherwise.

    ``steps`` (when given) records each step, passed or failed, for the connection test's
    report; ``capabilities`` receives the EHLO keywords as soon as they are known (the test
    shows them even when the login then fails).
    """
    record = steps if steps is not None else []
    ssl_context = ctx.tls.context()
    try:
        smtp = _connect(server, ctx, ssl_context)
    except (OSError, smtplib.SMTPException) as exc:
        raise _recorded(record, transport_error(server, exc, ctx, "connect")) from exc
    record.append(Step("connect", True, f"{server.host}:{server.port}"))
    try:
        _secure_and_login(smtp, server, creds, ctx, ssl_context, record, capabilities)
    except SmtpSessionError:
        close(smtp)
        raise
    except smtplib.SMTPResponseException as exc:
        close(smtp)
        text = reply_text(exc.smtp_code, exc.smtp_error)
        raise _recorded(record, fail_reply(server, ctx, exc.smtp_code, text, "session")) from exc
    except (OSError, smtplib.SMTPException) as exc:
        close(smtp)
        raise _recorded(record, transport_error(server, exc, ctx, "session")) from exc
    return smtp


def _recorded(steps: list[Step], error: SmtpSessionError) -> SmtpSessionError:
    steps.append(Step(error.step, False, error.detail))
    return error


def _secure_and_login(
    smtp: smtplib.SMTP,
    server: Server,
    creds: Credentials,
    ctx: ProbeContext,
    ssl_context: ssl.SSLContext,
    steps: list[Step],
    capabilities: list[str] | None,
) -> None:
    def fail(error: SessionError, reply_code: int | None = None) -> NoReturn:
        raise _recorded(steps, _with_code(error, reply_code))

    smtp.ehlo()
    if server.security is Security.STARTTLS:
        if not smtp.has_extn("starttls"):
            fail(fail_tls(Protocol.SMTP, server, ctx, "no_starttls", "no STARTTLS offered"))
        smtp.starttls(context=ssl_context)
        smtp.ehlo()
    if server.security is not Security.PLAIN:
        try:
            ctx.tls.check_peer(smtp.sock)
        except ssl.SSLError as exc:
            fail(fail_tls(Protocol.SMTP, server, ctx, "fingerprint", str(exc.args[0]), smtp.sock))
        steps.append(Step("tls", True, tls_version(smtp.sock)))
    keywords = sorted(k.upper() for k in smtp.esmtp_features)
    if capabilities is not None:
        capabilities[:] = keywords
    steps.append(Step("ehlo", True, " ".join(keywords)))
    try:
        login(smtp, creds)
    except smtplib.SMTPAuthenticationError as exc:
        text = reply_text(exc.smtp_code, exc.smtp_error)
        fail(fail_auth(Protocol.SMTP, server, text, ctx, exc.smtp_code), exc.smtp_code)
    except smtplib.SMTPNotSupportedError:
        diagnosis = diagnose(
            Code.SERVER_ERROR,
            protocol=Protocol.SMTP,
            server=server,
            provider=ctx.provider,
            server_text="no AUTH in the EHLO reply: " + " ".join(keywords),
            surface=ctx.surface,
        )
        fail(SessionError(diagnosis, "login", "the server offers no AUTH"))
    steps.append(Step("login", True, creds.username))


__all__ = [
    "SmtpSessionError",
    "close",
    "fail_reply",
    "login",
    "open_smtp",
    "reply_text",
    "transport_error",
]
