"""Send mail from a stored account over SMTP, the way the connection test logs in.

The account's SMTP server, port and security are used exactly as stored (the ones the test
found working), with its CA file or pinned certificate, and its app password decrypted from the
vault for the session only (``Credentials`` never shows it). Connecting, TLS and the login go
through :func:`mailmatch.smtp.session.open_smtp`, the connection test's own code, so a failure
carries the same diagnosis (``auth_failed``, ``app_password_required``, ``tls_error``,
``timeout``...) in the same words. Nothing is retried here: one login per call, so a wrong
password cannot lock the account; whoever runs the sending job retries what is retryable.

smtplib from worker threads (the design's choice): each :meth:`SmtpBackend.send` opens its own
connection, sends the messages given, and closes it.
"""

from __future__ import annotations

import re
import smtplib
from collections.abc import Sequence

from mailmatch.accounts.service import AccountService
from mailmatch.accounts.tls import TlsOptions
from mailmatch.config import Settings
from mailmatch.errors import Code, ConfigError, Diagnosis, InvalidInput
from mailmatch.imap.session import Credentials, ProbeContext, SessionError
from mailmatch.outbound.errors import SendError
from mailmatch.outbound.message import Envelope, Outgoing, Refusal, SendResult, prepare
from mailmatch.providers.models import Server
from mailmatch.smtp import session as smtp_session
from mailmatch.smtp.session import SmtpSessionError, open_smtp, reply_text

# "250 2.0.0 Ok: queued as 4Bq9Yk0Gz5z1" (Postfix), "250 OK id=1qXyZ-000abc-2B" (Exim)
_QUEUE_ID = re.compile(r"queued as ([^\s;]+)|\bid=([^\s;]+)", re.IGNORECASE)


def queue_id(reply: str) -> str | None:
    match = _QUEUE_ID.search(reply)
    return (match.group(1) or match.group(2)) if match else None


def _send_error(error: SessionError) -> SendError:
    code = error.reply_code if isinstance(error, SmtpSessionError) else None
    return SendError(error.diagnosis, step=error.step, reply_code=code)


class SmtpBackend:
    """Sends through one stored account's SMTP server."""

    def __init__(self, accounts: AccountService, account: str) -> None:
        self.accounts = accounts
        self.account = account

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        account: str | None = None,
        accounts: AccountService | None = None,
    ) -> SmtpBackend:
        if account is None:
            raise ConfigError(
                "the SMTP mail backend sends from a stored account: name one",
                advice=["list them with: mailmatch accounts list"],
            )
        return cls(accounts or AccountService.open(settings), account)

    def send(self, messages: Sequence[Outgoing]) -> list[SendResult]:
        """Send each message; raises :class:`SendError` at the first that fails entirely.

        A message some of whose recipients were refused is sent to the others, and its result
        lists each refusal with the server's code and text.
        """
        view = self.accounts.get(self.account)
        envelopes = [prepare(m, view.address) for m in messages]
        provider = self.accounts.catalog.get(view.provider_id) if view.provider_id else None
        ctx = ProbeContext(
            provider=provider,
            tls=TlsOptions(ca_file=view.ca_file, fingerprint=view.cert_fingerprint),
            timeout=self.accounts.settings.connect_timeout,
            ever_worked=bool(view.last_test_ok),
        )
        creds = Credentials(view.smtp_username, self.accounts.password(self.account))
        try:
            smtp = open_smtp(view.smtp, creds, ctx)
        except SessionError as error:
            raise _send_error(error) from error
        try:
            return [_transmit(smtp, view.smtp, ctx, envelope) for envelope in envelopes]
        except smtplib.SMTPResponseException as exc:
            text = reply_text(exc.smtp_code, exc.smtp_error)
            failed = smtp_session.fail_reply(view.smtp, ctx, exc.smtp_code, text, "send")
            raise _send_error(failed) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise _send_error(smtp_session.transport_error(view.smtp, exc, ctx, "send")) from exc
        finally:
            smtp_session.close(smtp)


def _options(smtp: smtplib.SMTP, envelope: Envelope) -> list[str]:
    options = [f"SIZE={len(envelope.data)}"] if smtp.has_extn("size") else []
    if not envelope.data.isascii() and smtp.has_extn("8bitmime"):
        options.append("BODY=8BITMIME")
    addresses = (envelope.mail_from, *envelope.recipients)
    if not all(a.isascii() for a in addresses):
        if not smtp.has_extn("smtputf8"):
            raise InvalidInput("the server does not accept addresses beyond ASCII (no SMTPUTF8)")
        options.append("SMTPUTF8")
    return options


def _refused(
    server: Server, ctx: ProbeContext, code: int, text: str, step: str, refused: tuple[Refusal, ...]
) -> SendError:
    error = smtp_session.fail_reply(server, ctx, code, text, step)
    return SendError(error.diagnosis, step=step, reply_code=code, refused=refused)


def _transmit(
    smtp: smtplib.SMTP, server: Server, ctx: ProbeContext, envelope: Envelope
) -> SendResult:
    """MAIL, RCPT for each recipient, DATA: smtplib's ``sendmail`` keeps no DATA reply, and
    the reply is where the server names its queue id."""
    code, reply = smtp.mail(envelope.mail_from, _options(smtp, envelope))
    if code != 250:
        smtp.rset()
        raise _refused(server, ctx, code, reply_text(code, reply), "mail", ())
    accepted: list[str] = []
    refused: list[Refusal] = []
    for recipient in envelope.recipients:
        code, reply = smtp.rcpt(recipient)
        if code in (250, 251):
            accepted.append(recipient)
        else:
            refused.append(Refusal(recipient, code, reply_text(code, reply)))
    if not accepted:
        smtp.rset()
        final = not all(r.retryable for r in refused)
        diagnosis = Diagnosis(
            code=Code.SERVER_ERROR if final else Code.RATE_LIMITED,
            message="The server refused every recipient of the message.",
            server_text="; ".join(r.text for r in refused),
            advice=[
                "check the addresses; a 4xx refusal (greylisting, a full mailbox) may pass "
                "later, a 5xx one will not"
            ],
        )
        worst = max(refused, key=lambda r: r.code)
        raise SendError(diagnosis, step="rcpt", reply_code=worst.code, refused=tuple(refused))
    code, reply = smtp.data(envelope.data)
    text = reply_text(code, reply)
    if code != 250:
        smtp.rset()
        raise _refused(server, ctx, code, text, "data", ())
    return SendResult(
        envelope.message_id,
        envelope.mail_from,
        tuple(accepted),
        tuple(refused),
        queue_id(text),
        text,
    )


__all__ = ["SmtpBackend", "queue_id"]
