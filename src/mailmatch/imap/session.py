"""Open an authenticated IMAP session, or explain exactly why not.

One code path serves the connection test and the importer, so that an import that fails
says the same thing, in the same words, as ``mailmatch accounts test``: connect (implicit TLS or
STARTTLS, certificate verified or pinned), a single LOGIN (never retried), ID when offered
(NetEase refuses SELECT without it).
"""

from __future__ import annotations

import contextlib
import logging
import ssl
from dataclasses import dataclass, replace
from typing import NoReturn

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError
from imapclient.imapclient import SocketTimeout

from mailmatch import __version__
from mailmatch.accounts.advice import Surface, publicly_trusted
from mailmatch.accounts.certificate import PeerCertificate, fetch_certificate, peer_certificate
from mailmatch.accounts.diagnosis import (
    AuthContext,
    classify_auth_text,
    classify_exception,
    diagnose,
    tls_hint,
)
from mailmatch.accounts.tls import TlsOptions
from mailmatch.errors import Code, ConnectError, Diagnosis
from mailmatch.providers.models import Protocol, Provider, Security, Server


@dataclass
class Step:
    name: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str

    def __repr__(self) -> str:  # never show the password in a traceback or log
        return f"Credentials(username={self.username!r}, password='***')"


@dataclass(frozen=True)
class ProbeContext:
    """What a connection attempt knows besides the server: provider, TLS trust, timeouts.

    ``surface`` is where the diagnosis will be read (its advice names that place's controls).
    ``inspect_certificate`` makes a failed certificate check read the certificate on a second,
    unverified connection, so the user learns what to pin: the connection test wants that; the
    importer, which only repeats a test that once passed, does not need the extra connection.
    """

    provider: Provider | None
    tls: TlsOptions
    timeout: float
    password_looks_like_app_password: bool | None = None
    ever_worked: bool = False
    surface: Surface = Surface.CLI
    inspect_certificate: bool = False


#: The TLS failures where the server did present a certificate, only one we do not trust.
UNTRUSTED_CERTIFICATE = frozenset({"untrusted", "hostname", "expired"})


def _presented(
    protocol: Protocol, server: Server, ctx: ProbeContext, cert: PeerCertificate | None = None
) -> PeerCertificate | None:
    """The certificate to show with a TLS failure, marked not pinnable at a public provider."""
    if cert is None and ctx.inspect_certificate:
        cert = fetch_certificate(server, protocol, ctx.timeout)
    if cert is not None and publicly_trusted(ctx.provider, server):
        cert = replace(cert, can_pin=False)
    return cert


class SessionError(ConnectError):
    """A failed connection step; ``classified_by`` says what decided the diagnosis."""

    def __init__(
        self, diagnosis: Diagnosis, step: str, detail: str, classified_by: str | None = None
    ) -> None:
        super().__init__(diagnosis)
        self.step = step
        self.detail = detail
        self.classified_by = classified_by


def fail_transport(
    protocol: Protocol, server: Server, exc: BaseException, ctx: ProbeContext, step: str
) -> SessionError:
    code, why = classify_exception(exc)
    detail = tls_hint(server, why) if code is Code.TLS_ERROR else None
    cert = _presented(protocol, server, ctx) if detail in UNTRUSTED_CERTIFICATE else None
    diagnosis = diagnose(
        code,
        protocol=protocol,
        server=server,
        provider=ctx.provider,
        server_text=None,
        why=why,
        tls_detail=detail,
        certificate=cert,
        surface=ctx.surface,
    )
    return SessionError(diagnosis, step, why)


def fail_auth(
    protocol: Protocol, server: Server, text: str, ctx: ProbeContext, reply_code: int | None = None
) -> SessionError:
    auth = AuthContext(
        protocol=protocol,
        provider=ctx.provider,
        server=server,
        password_looks_like_app_password=ctx.password_looks_like_app_password,
        ever_worked=ctx.ever_worked,
    )
    code, why = classify_auth_text(auth, text, reply_code)
    diagnosis = diagnose(
        code,
        protocol=protocol,
        server=server,
        provider=ctx.provider,
        server_text=text,
        surface=ctx.surface,
    )
    return SessionError(diagnosis, "login", text, why)


def fail_tls(
    protocol: Protocol,
    server: Server,
    ctx: ProbeContext,
    hint: str,
    why: str,
    sock: object | None = None,
) -> SessionError:
    """A TLS failure found after the handshake; ``sock`` is the connection, when its certificate
    is the evidence (a pinned fingerprint that no longer matches)."""
    cert = _presented(protocol, server, ctx, peer_certificate(sock)) if sock is not None else None
    diagnosis = diagnose(
        Code.TLS_ERROR,
        protocol=protocol,
        server=server,
        provider=ctx.provider,
        server_text=None,
        why=why,
        tls_detail=hint,
        certificate=cert,
        surface=ctx.surface,
    )
    return SessionError(diagnosis, "tls", why)


def fail_server(protocol: Protocol, server: Server, ctx: ProbeContext, text: str) -> SessionError:
    diagnosis = diagnose(
        Code.SERVER_ERROR,
        protocol=protocol,
        server=server,
        provider=ctx.provider,
        server_text=text,
        surface=ctx.surface,
    )
    return SessionError(diagnosis, "session", text)


def imap_text(exc: IMAPClientError) -> str:
    """IMAPClient wraps the reply as "login failed: b'...'"; keep only the server's words."""
    text = str(exc)
    for prefix in ("login failed: ", "LOGIN command error: "):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    if text.startswith(("b'", 'b"')) and text.endswith(text[1]):
        text = text[2:-1]
    return text


def tls_version(sock: object) -> str:
    version = getattr(sock, "version", None)
    return str(version()) if callable(version) else "TLS"


def skip_unlogged_debug(client: IMAPClient) -> None:
    """Stop imaplib from formatting debug messages that no logger records.

    imapclient sets imaplib's debug level to 5 and sends its messages to the
    ``imapclient.imaplib`` logger, so imaplib builds ``repr()`` of every response, message
    bodies included, before the logger drops it: more than half the CPU time of a bulk
    ``FETCH`` (0.25 of 0.55 s for the 30 MB corpus). The messages are kept whenever that logger
    would record them.
    """
    if not logging.getLogger("imapclient.imaplib").isEnabledFor(logging.DEBUG):
        client._imap.debug = 0


def open_imap(
    server: Server, creds: Credentials, ctx: ProbeContext, steps: list[Step] | None = None
) -> IMAPClient:
    """A logged-in client; raises :class:`SessionError` with the diagnosis otherwise.

    ``steps`` (when given) records each step passed, for the connection test's report.
    """
    record = steps if steps is not None else []
    ssl_context = ctx.tls.context()
    try:
        client = IMAPClient(
            server.host,
            port=server.port,
            ssl=server.security is Security.SSL,
            ssl_context=ssl_context,
            timeout=SocketTimeout(connect=ctx.timeout, read=ctx.timeout),
            use_uid=True,
        )
    except (OSError, ssl.SSLError, IMAPClientError, EOFError) as exc:
        raise _recorded(record, fail_transport(Protocol.IMAP, server, exc, ctx, "connect")) from exc
    skip_unlogged_debug(client)
    record.append(Step("connect", True, f"{server.host}:{server.port}"))
    try:
        _secure_and_login(client, server, creds, ctx, ssl_context, record)
    except SessionError:
        with contextlib.suppress(OSError):
            client.shutdown()
        raise
    except (OSError, EOFError) as exc:
        with contextlib.suppress(OSError):
            client.shutdown()
        raise _recorded(record, fail_transport(Protocol.IMAP, server, exc, ctx, "session")) from exc
    except IMAPClientError as exc:
        with contextlib.suppress(OSError):
            client.shutdown()
        raise _recorded(record, fail_server(Protocol.IMAP, server, ctx, imap_text(exc))) from exc
    return client


def _recorded(steps: list[Step], error: SessionError) -> SessionError:
    steps.append(Step(error.step, False, error.detail))
    return error


def _secure_and_login(
    client: IMAPClient,
    server: Server,
    creds: Credentials,
    ctx: ProbeContext,
    ssl_context: ssl.SSLContext,
    steps: list[Step],
) -> None:
    def fail(error: SessionError) -> NoReturn:
        raise _recorded(steps, error)

    if server.security is Security.STARTTLS:
        if not client.has_capability("STARTTLS"):
            fail(fail_tls(Protocol.IMAP, server, ctx, "no_starttls", "no STARTTLS offered"))
        try:
            client.starttls(ssl_context)
        except (ssl.SSLError, OSError) as exc:
            fail(fail_transport(Protocol.IMAP, server, exc, ctx, "tls"))
    if server.security is not Security.PLAIN:
        try:
            ctx.tls.check_peer(client.socket())
        except ssl.SSLError as exc:
            fail(
                fail_tls(
                    Protocol.IMAP, server, ctx, "fingerprint", str(exc.args[0]), client.socket()
                )
            )
        steps.append(Step("tls", True, tls_version(client.socket())))
    try:
        client.login(creds.username, creds.password)
    except LoginError as exc:
        fail(fail_auth(Protocol.IMAP, server, imap_text(exc), ctx))
    steps.append(Step("login", True, creds.username))
    if client.has_capability("ID"):
        client.id_({"name": "mailmatch", "version": __version__})
