"""Scripted IMAP and SMTP servers that replay a provider's exact replies.

Some failures only real providers produce (Gmail's "Application-specific password required",
Zoho's "You are yet to enable IMAP"), and the diagnosis must recognise them word for word. These
servers speak just enough of each protocol for a client to reach the login and read that reply:
greeting, capabilities, LOGIN / AUTHENTICATE (IMAP) or AUTH PLAIN / AUTH LOGIN (SMTP), logout.
Every line the client sends is recorded (``lines``) and the command names are collected
(``commands``), so a test can assert that no mail was sent (no ``MAIL``/``DATA``) or that the
client used the tag it was given back.

The provider texts below are copied from ``../shared/reference/providers/auth_errors.json``.
"""

from __future__ import annotations

import base64
import re
import ssl
import threading
from collections.abc import Sequence

from tests.servers.tcp import Connection, LineServer

__all__ = [
    "GMAIL_IMAP_APP_PASSWORD_REQUIRED",
    "GMAIL_IMAP_NOT_ENABLED",
    "GMAIL_SMTP_APP_PASSWORD_REQUIRED",
    "ZOHO_IMAP_NOT_ENABLED",
    "ScriptedIMAP",
    "ScriptedSMTP",
]

# Tagged IMAP replies (the tag is added by the server): exact texts from auth_errors.json.
GMAIL_IMAP_APP_PASSWORD_REQUIRED = (
    "NO [ALERT] Application-specific password required: "
    "https://support.google.com/accounts/answer/185833 (Failure)"
)
GMAIL_IMAP_NOT_ENABLED = (
    "NO [ALERT] Your account is not enabled for IMAP use. Please visit your Gmail settings page "
    "and enable your account for IMAP access. (Failure)"
)
ZOHO_IMAP_NOT_ENABLED = (
    "NO [ALERT] You are yet to enable IMAP for your account. "
    "Please contact your administrator (Failure)"
)
# Gmail's SMTP reply is two lines on the wire (the reference file quotes it joined); smtplib
# reports it as code 534 with both texts joined by a newline.
GMAIL_SMTP_APP_PASSWORD_REQUIRED = (
    "534-5.7.9 Application-specific password required. Learn more at",
    "534 5.7.9  https://support.google.com/mail/?p=InvalidSecondFactor - gsmtp",
)

_LITERAL = re.compile(rb"\{(\d+)(\+?)\}$")


def _lines(reply: str | Sequence[str]) -> list[str]:
    """A reply given as one string (lines split on newlines) or as a sequence of lines."""
    if isinstance(reply, str):
        return [line.rstrip("\r") for line in reply.split("\n")]
    return list(reply)


class _Scripted(LineServer):
    """Common parts: command log, optional implicit TLS, optional STARTTLS."""

    def __init__(
        self,
        *,
        tls_context: ssl.SSLContext | None = None,
        starttls_context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(tls_context=tls_context)
        self.starttls_context = starttls_context
        self.commands: list[str] = []
        self._commands_lock = threading.Lock()

    def note(self, command: str) -> None:
        with self._commands_lock:
            self.commands.append(command.upper())

    def clear(self) -> None:
        super().clear()
        with self._commands_lock:
            self.commands.clear()


class ScriptedIMAP(_Scripted):
    """An IMAP server whose greeting, capabilities and login reply are given.

    ``login_reply`` is the tagged reply *without* the tag, sent for LOGIN and (unless
    ``authenticate_reply`` is given) for AUTHENTICATE, e.g. ``GMAIL_IMAP_APP_PASSWORD_REQUIRED``
    or ``"OK Logged in"``. ``login_untagged`` lines (complete, e.g. ``"* BYE ..."``) are sent just
    before it. Literals (``{n}`` and ``{n+}``) in LOGIN are read properly, and AUTHENTICATE takes
    the SASL initial response inline (SASL-IR) or after a ``+`` continuation; AUTH=LOGIN gets its
    two ``+`` prompts. Commands the script does not know get ``BAD``.
    """

    def __init__(
        self,
        *,
        login_reply: str = "NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)",
        authenticate_reply: str | None = None,
        capabilities: str = "IMAP4rev1 SASL-IR AUTH=PLAIN AUTH=LOGIN ID",
        greeting: str | None = None,
        login_untagged: Sequence[str] = (),
        tls_context: ssl.SSLContext | None = None,
        starttls_context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(tls_context=tls_context, starttls_context=starttls_context)
        self.login_reply = login_reply
        self.authenticate_reply = authenticate_reply
        self.capabilities = capabilities
        self.greeting = greeting if greeting is not None else "* OK IMAP server ready"
        self.login_untagged = tuple(login_untagged)

    def _capability_line(self, tls_active: bool) -> str:
        caps = self.capabilities
        if self.starttls_context is not None and not tls_active:
            caps += " STARTTLS"
        return f"* CAPABILITY {caps}"

    def _read_command(self, conn: Connection) -> bytes:
        """One command, with any literals spliced in (as quoted-free raw bytes)."""
        line = conn.readline()
        parts = [line]
        while (m := _LITERAL.search(parts[-1])) is not None:
            if not m.group(2):
                conn.send_line("+ Ready for literal data")
            parts.append(conn.read_exact(int(m.group(1))))
            parts.append(conn.readline())
        return b"".join(parts)

    def handle(self, conn: Connection) -> None:
        conn.send_line(self.greeting)
        tls_active = self.tls_context is not None
        while True:
            text = self._read_command(conn).decode("utf-8", "replace")
            tag, _, rest = text.partition(" ")
            command, _, args = rest.partition(" ")
            command = command.upper()
            self.note(command)
            if command == "CAPABILITY":
                conn.send_line(self._capability_line(tls_active))
                conn.send_line(f"{tag} OK CAPABILITY completed")
            elif command == "NOOP":
                conn.send_line(f"{tag} OK NOOP completed")
            elif command == "ID":
                conn.send_line("* ID NIL")
                conn.send_line(f"{tag} OK ID completed")
            elif command == "STARTTLS" and self.starttls_context is not None and not tls_active:
                conn.send_line(f"{tag} OK Begin TLS negotiation now")
                conn.starttls(self.starttls_context)
                tls_active = True
            elif command == "LOGIN":
                self._reply_login(conn, tag, self.login_reply)
            elif command == "AUTHENTICATE":
                self._authenticate(conn, tag, args)
            elif command == "LOGOUT":
                conn.send_line("* BYE Logging out")
                conn.send_line(f"{tag} OK LOGOUT completed")
                return
            else:
                conn.send_line(f"{tag} BAD Command not supported by this scripted server")

    def _reply_login(self, conn: Connection, tag: str, reply: str) -> None:
        for line in self.login_untagged:
            conn.send_line(line)
        conn.send_line(f"{tag} {reply}")

    def _authenticate(self, conn: Connection, tag: str, args: str) -> None:
        mechanism, _, initial = args.partition(" ")
        if mechanism.upper() == "LOGIN":
            prompts = ["VXNlcm5hbWU6", "UGFzc3dvcmQ6"]  # "Username:", "Password:"
            if initial:
                prompts = prompts[1:]
            for prompt in prompts:
                conn.send_line(f"+ {prompt}")
                if conn.readline() == b"*":
                    conn.send_line(f"{tag} BAD AUTHENTICATE aborted")
                    return
        elif not initial:
            conn.send_line("+ ")
            if conn.readline() == b"*":
                conn.send_line(f"{tag} BAD AUTHENTICATE aborted")
                return
        reply = self.authenticate_reply if self.authenticate_reply is not None else self.login_reply
        self._reply_login(conn, tag, reply)


class ScriptedSMTP(_Scripted):
    """An SMTP server whose greeting, EHLO extensions and AUTH reply are given.

    ``auth_reply`` is sent verbatim, one line or several (a string is split on newlines, so
    ``"534-5.7.9 ...\\r\\n534 5.7.9 ..."`` works, as does a tuple such as
    ``GMAIL_SMTP_APP_PASSWORD_REQUIRED``): the continuation dashes are the caller's, because the
    point is to replay a provider byte for byte. AUTH PLAIN works with the initial response inline
    or after ``334``; AUTH LOGIN goes through its two ``334`` prompts (or one, with an initial
    username). ``MAIL``, ``RCPT`` and ``DATA`` are refused with 530 and recorded, so a test can
    assert they never came.
    """

    def __init__(
        self,
        *,
        auth_reply: str | Sequence[str] = "535 5.7.8 Authentication credentials invalid",
        extensions: Sequence[str] = (
            "SIZE 35882577",
            "8BITMIME",
            "AUTH LOGIN PLAIN",
            "ENHANCEDSTATUSCODES",
        ),
        greeting: str = "220 smtp.example.com ESMTP ready",
        server_name: str = "smtp.example.com",
        tls_context: ssl.SSLContext | None = None,
        starttls_context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(tls_context=tls_context, starttls_context=starttls_context)
        self.auth_reply = _lines(auth_reply)
        self.extensions = list(extensions)
        self.greeting = greeting
        self.server_name = server_name

    def handle(self, conn: Connection) -> None:
        conn.send_line(self.greeting)
        tls_active = self.tls_context is not None
        while True:
            text = conn.readline().decode("utf-8", "replace")
            command, _, args = text.partition(" ")
            command = command.upper()
            self.note(command)
            if command == "EHLO":
                ext = list(self.extensions)
                if self.starttls_context is not None and not tls_active:
                    ext.append("STARTTLS")
                lines = [self.server_name, *ext]
                for i, line in enumerate(lines):
                    sep = " " if i == len(lines) - 1 else "-"
                    conn.send_line(f"250{sep}{line}")
            elif command == "HELO":
                conn.send_line(f"250 {self.server_name}")
            elif command == "STARTTLS" and self.starttls_context is not None and not tls_active:
                conn.send_line("220 2.0.0 Ready to start TLS")
                conn.starttls(self.starttls_context)
                tls_active = True
            elif command == "AUTH":
                self._auth(conn, args)
            elif command in ("NOOP", "RSET"):
                conn.send_line("250 2.0.0 OK")
            elif command in ("MAIL", "RCPT", "DATA"):
                conn.send_line("530 5.7.0 Authentication required (scripted server sends nothing)")
            elif command == "QUIT":
                conn.send_line("221 2.0.0 Bye")
                return
            else:
                conn.send_line("502 5.5.1 Command not implemented")

    def _prompt(self, conn: Connection, challenge: str) -> bool:
        """Send a 334 challenge; False if the client cancelled with ``*``."""
        conn.send_line(f"334 {challenge}")
        if conn.readline() == b"*":
            conn.send_line("501 5.7.0 Authentication aborted")
            return False
        return True

    def _auth(self, conn: Connection, args: str) -> None:
        mechanism, _, initial = args.partition(" ")
        mechanism = mechanism.upper()
        if mechanism == "PLAIN":
            if not initial and not self._prompt(conn, ""):
                return
        elif mechanism == "LOGIN":
            if not initial and not self._prompt(conn, base64.b64encode(b"Username:").decode()):
                return
            if not self._prompt(conn, base64.b64encode(b"Password:").decode()):
                return
        else:
            conn.send_line("504 5.5.4 Unrecognized authentication type")
            return
        for line in self.auth_reply:
            conn.send_line(line)
