"""A real submission server (aiosmtpd) with AUTH over implicit TLS and over STARTTLS.

Two listeners share one recording handler and one user table, like a provider's ports 465 and
587: ``ssl_port`` speaks TLS from the first byte; ``starttls_port`` greets in plaintext, offers
AUTH only after STARTTLS and refuses everything but EHLO/STARTTLS/QUIT before it
(``require_starttls``). AUTH PLAIN and LOGIN are checked against ``users`` (a live dict: a test
may add a user by assigning to it), and a wrong password gets aiosmtpd's real
``535 5.7.8 Authentication credentials invalid``.

The connection test must never send mail, so everything that reaches the handler is recorded:
``received`` (messages after DATA), ``mail_from`` (MAIL FROM addresses) and ``auth_attempts``.
The server is shared by the session; :meth:`SMTPServer.clear` empties the records.

Sending tests need refusals: ``rcpt_replies`` (a live dict) maps a recipient to the reply its
RCPT gets instead of ``250 OK`` (``"550 5.1.1 <x@example.net>: user unknown"``, a greylisting
``"450 4.2.0 ..."``). An accepted message's reply names its queue id, as Postfix's does:
``250 2.0.0 OK: queued as MM1`` (``queue_ids`` lists them in order).

aiosmtpd pitfall, handled in :meth:`SMTPServer._authenticate`: an authenticator that returns
``AuthResult(success=False)`` with the default ``handled=True`` tells aiosmtpd the reply was
already sent, so nothing is sent and the client hangs; failures must say ``handled=False``.
"""

from __future__ import annotations

import asyncio
import hmac
import socket
import threading
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.servers.certs import Certs
from tests.servers.tcp import HOST, LOOPBACK, server_context

__all__ = ["AuthAttempt", "ReceivedMessage", "SMTPServer"]

DEFAULT_USERS = {"user@example.com": "abcd-efgh-ijkl-mnop"}


@dataclass(frozen=True)
class ReceivedMessage:
    """One message accepted after DATA."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    content: bytes
    login: str | None


@dataclass(frozen=True)
class AuthAttempt:
    """One AUTH exchange that reached the authenticator (the password is not kept)."""

    mechanism: str
    login: str
    success: bool
    port: int


class _ImplicitTLSSMTP(SMTP):
    """SMTP for a listener that is TLS from the first byte.

    aiosmtpd 1.4 only counts STARTTLS as TLS for ``auth_require_tls``, so with that on it hides
    AUTH on an implicit-TLS port, and with it off it warns ("Requiring AUTH while not requiring
    TLS") for every connection. Every byte on this listener is encrypted, so build it with the
    check on (no warning) and then turn the check off.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._auth_require_tls = False


class _BoundController(Controller):
    """A Controller that serves on a socket bound to port 0 beforehand.

    aiosmtpd's Controller wants a fixed port number up front (it connects to it to check the
    server is up), so binding the socket ourselves gives a kernel-chosen free port with no window
    in which another process could take it.
    """

    def __init__(self, handler: Any, sock: socket.socket, **kwargs: Any) -> None:
        super().__init__(handler, hostname=LOOPBACK, port=sock.getsockname()[1], **kwargs)
        self._sock = sock

    def factory(self) -> SMTP:
        cls = _ImplicitTLSSMTP if self.ssl_context is not None else SMTP
        return cls(self.handler, **self.SMTP_kwargs)

    def _create_server(self) -> Awaitable[asyncio.AbstractServer]:
        return self.loop.create_server(self._factory_invoker, sock=self._sock, ssl=self.ssl_context)


class _RecordingHandler:
    """aiosmtpd handler hooks that record MAIL FROM and DATA before accepting them."""

    def __init__(self, server: SMTPServer) -> None:
        self._server = server

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        self._server._note_mail_from(address)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        refusal = self._server.rcpt_replies.get(address)
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        auth = session.auth_data
        login = auth.login.decode("utf-8", "replace") if isinstance(auth, LoginPassword) else None
        queue_id = self._server._note_message(
            ReceivedMessage(
                mail_from=envelope.mail_from or "",
                rcpt_tos=tuple(envelope.rcpt_tos),
                content=envelope.original_content or b"",
                login=login,
            )
        )
        return f"250 2.0.0 OK: queued as {queue_id}"


def _listener() -> socket.socket:
    sock = socket.create_server((LOOPBACK, 0))
    sock.setblocking(False)
    return sock


class SMTPServer:
    """aiosmtpd on two loopback ports with the CA-signed ``localhost`` certificate."""

    host = HOST

    def __init__(self, certs: Certs, users: dict[str, str] | None = None) -> None:
        self.ca_file = str(certs.ca_file)
        self.users: dict[str, str] = dict(DEFAULT_USERS if users is None else users)
        self.received: list[ReceivedMessage] = []
        self.mail_from: list[str] = []
        self.auth_attempts: list[AuthAttempt] = []
        self.rcpt_replies: dict[str, str] = {}
        self.queue_ids: list[str] = []
        self._queued = 0  # never reset: a queue id is not given twice
        self._lock = threading.Lock()
        context = server_context(certs.cert, certs.key)
        handler = _RecordingHandler(self)
        common: dict[str, Any] = {
            "server_hostname": HOST,
            "authenticator": self._authenticate,
            "auth_required": True,
            "auth_require_tls": True,
            "ready_timeout": 10.0,
        }
        ssl_sock, starttls_sock = _listener(), _listener()
        self.ssl_port = int(ssl_sock.getsockname()[1])
        self.starttls_port = int(starttls_sock.getsockname()[1])
        self._controllers = [
            _BoundController(handler, ssl_sock, ssl_context=context, **common),
            _BoundController(
                handler, starttls_sock, tls_context=context, require_starttls=True, **common
            ),
        ]

    def start(self) -> SMTPServer:
        for controller in self._controllers:
            controller.start()
        return self

    def stop(self) -> None:
        for controller in self._controllers:
            if controller._thread is not None:
                controller.stop()

    def clear(self) -> None:
        """Forget received messages and attempts (the server is shared by the session)."""
        with self._lock:
            self.received.clear()
            self.mail_from.clear()
            self.auth_attempts.clear()
            self.rcpt_replies.clear()
            self.queue_ids.clear()

    def _authenticate(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        mechanism: str,
        auth_data: Any,
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode("utf-8", "replace")
        expected = self.users.get(login)
        ok = expected is not None and hmac.compare_digest(
            expected.encode("utf-8"), auth_data.password
        )
        sockname = server.transport.get_extra_info("sockname") if server.transport else None
        port = int(sockname[1]) if sockname else 0
        with self._lock:
            self.auth_attempts.append(AuthAttempt(mechanism, login, ok, port))
        if ok:
            return AuthResult(success=True, auth_data=auth_data)
        # handled=False: let aiosmtpd send its 535; the default handled=True sends nothing.
        return AuthResult(success=False, handled=False)

    def _note_mail_from(self, address: str) -> None:
        with self._lock:
            self.mail_from.append(address)

    def _note_message(self, message: ReceivedMessage) -> str:
        with self._lock:
            self.received.append(message)
            self._queued += 1
            self.queue_ids.append(f"MM{self._queued}")
            return self.queue_ids[-1]
