"""Sending mail from a stored account, for real, through the fixture's aiosmtpd."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from mailmatch import outbound
from mailmatch.accounts.service import AccountService, NewAccount, ServerOverride
from mailmatch.config import load_settings
from mailmatch.errors import Code, ConfigError, InvalidInput
from mailmatch.outbound import Outgoing, SendError, get_backend, send_one
from mailmatch.outbound.message import wire_bytes
from mailmatch.outbound.recording import Sent
from mailmatch.providers.models import Security

USER, PASSWORD = "user@example.com", "abcd-efgh-ijkl-mnop"

Store = Callable[..., AccountService]


@pytest.fixture
def stored_account(tmp_path: Path, smtp_server: Any) -> Iterator[Store]:
    """Factory: an account saved (untested, so no probe mail-server traffic) for the fixture's
    submission server; ``security`` picks its STARTTLS or implicit-TLS port."""
    smtp_server.clear()

    def store(
        security: Security = Security.STARTTLS,
        password: str = PASSWORD,
        ca_file: str | None = smtp_server.ca_file,
        fingerprint: str | None = None,
    ) -> AccountService:
        settings = load_settings({"MAILMATCH_HOME": str(tmp_path / "home")})
        accounts = AccountService.open(settings)
        port = smtp_server.ssl_port if security is Security.SSL else smtp_server.starttls_port
        request = NewAccount(
            address=USER,
            name="acct",
            imap=ServerOverride("localhost", 993, Security.SSL),
            smtp=ServerOverride("localhost", port, security),
            ca_file=ca_file,
            cert_fingerprint=fingerprint,
        )
        accounts.add(request, password, test=False)
        return accounts

    yield store
    smtp_server.clear()


def reply(to: str = "bob@example.net", bcc: str | None = None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"Support <{USER}>"
    message["To"] = to
    if bcc:
        message["Bcc"] = bcc
    message["Subject"] = "Re: your invoice — März"
    message.set_content("Hello Bob,\n.\nA line with a lone dot above.\n")
    return message


@pytest.mark.parametrize("security", [Security.STARTTLS, Security.SSL])
def test_a_message_arrives_with_its_envelope_and_bytes(
    stored_account: Store, smtp_server: Any, security: Security
) -> None:
    accounts = stored_account(security)
    backend = get_backend(accounts.settings, account="acct", accounts=accounts)
    message = reply(bcc="boss@example.org")

    result = send_one(backend, Outgoing.from_headers(message))

    assert result.accepted == ("bob@example.net", "boss@example.org")
    assert result.refused == ()
    [received] = smtp_server.received
    assert received.mail_from == USER and received.login == USER
    assert received.rcpt_tos == ("bob@example.net", "boss@example.org")
    assert received.content == wire_bytes(message)  # byte for byte, the dot line unstuffed
    parsed = message_from_bytes(received.content, policy=policy.default)
    assert parsed["Bcc"] is None  # the blind copy stays blind
    assert parsed["Message-ID"] == result.message_id == message["Message-ID"]
    assert result.message_id.endswith("@example.com>") and parsed["Date"] is not None
    assert parsed["Subject"] == "Re: your invoice — März"
    assert result.queue_id == smtp_server.queue_ids[-1]
    assert len(smtp_server.auth_attempts) == 1


def test_only_the_envelope_recipients_receive_it(stored_account: Store, smtp_server: Any) -> None:
    accounts = stored_account()
    backend = get_backend(accounts.settings, account="acct", accounts=accounts)
    message = reply(to="bob@example.net, carol@example.net")

    result = send_one(backend, Outgoing(message, ("carol@example.net", "carol@example.net")))

    assert result.accepted == ("carol@example.net",)
    assert smtp_server.received[-1].rcpt_tos == ("carol@example.net",)
    with pytest.raises(InvalidInput):
        send_one(backend, Outgoing(reply(), ("bob@example.net>\r\nRCPT TO:<eve@example.org",)))


def test_a_wrong_password_is_auth_failed_in_the_servers_words_and_not_retried(
    stored_account: Store, smtp_server: Any
) -> None:
    accounts = stored_account(password="wrong-password")
    backend = get_backend(accounts.settings, account="acct", accounts=accounts)

    with pytest.raises(SendError) as caught:
        send_one(backend, Outgoing.from_headers(reply()))

    error = caught.value
    assert error.code == Code.AUTH_FAILED
    assert error.server_text == "535 5.7.8 Authentication credentials invalid"
    assert error.reply_code == 535 and not error.retryable
    assert [a.success for a in smtp_server.auth_attempts] == [False]  # one attempt, no other
    assert smtp_server.received == [] and smtp_server.mail_from == []
    assert "wrong-password" not in repr(error.to_json())


def test_a_refused_recipient_is_reported_and_the_others_receive_it(
    stored_account: Store, smtp_server: Any
) -> None:
    accounts = stored_account()
    smtp_server.rcpt_replies["gone@example.net"] = "550 5.1.1 <gone@example.net>: user unknown"
    backend = get_backend(accounts.settings, account="acct", accounts=accounts)

    result = send_one(backend, Outgoing(reply(), ("bob@example.net", "gone@example.net")))

    assert result.accepted == ("bob@example.net",)
    [refusal] = result.refused
    assert (refusal.recipient, refusal.code) == ("gone@example.net", 550)
    assert refusal.text == "550 5.1.1 <gone@example.net>: user unknown"
    assert not refusal.retryable
    assert smtp_server.received[-1].rcpt_tos == ("bob@example.net",)


def test_a_temporary_refusal_is_retryable_a_final_one_is_not(
    stored_account: Store, smtp_server: Any
) -> None:
    accounts = stored_account()
    smtp_server.rcpt_replies["grey@example.net"] = "450 4.2.0 <grey@example.net>: greylisted"
    smtp_server.rcpt_replies["gone@example.net"] = "550 5.1.1 <gone@example.net>: user unknown"
    backend = get_backend(accounts.settings, account="acct", accounts=accounts)

    with pytest.raises(SendError) as later:
        send_one(backend, Outgoing(reply(), ("grey@example.net",)))
    assert later.value.retryable and later.value.code == Code.RATE_LIMITED
    assert later.value.reply_code == 450
    assert later.value.server_text == "450 4.2.0 <grey@example.net>: greylisted"

    with pytest.raises(SendError) as never:
        send_one(backend, Outgoing(reply(), ("grey@example.net", "gone@example.net")))
    assert not never.value.retryable
    assert [(r.recipient, r.code) for r in never.value.refused] == [
        ("grey@example.net", 450),
        ("gone@example.net", 550),
    ]
    assert smtp_server.received == []


def test_a_certificate_the_account_does_not_trust_is_refused_before_the_login(
    stored_account: Store, smtp_server: Any, certs: Any
) -> None:
    untrusting = stored_account(Security.SSL, ca_file=None)
    backend = get_backend(untrusting.settings, account="acct", accounts=untrusting)

    with pytest.raises(SendError) as caught:
        send_one(backend, Outgoing.from_headers(reply()))

    assert caught.value.code == Code.TLS_ERROR and not caught.value.retryable
    assert smtp_server.auth_attempts == [] and smtp_server.received == []


def test_a_pinned_certificate_is_trusted_and_a_wrong_pin_is_not(
    tmp_path: Path, stored_account: Store, smtp_server: Any, certs: Any
) -> None:
    pinned = stored_account(Security.STARTTLS, ca_file=None, fingerprint=certs.fingerprint)
    backend = get_backend(pinned.settings, account="acct", accounts=pinned)
    assert send_one(backend, Outgoing.from_headers(reply())).accepted == ("bob@example.net",)

    pinned.remove("acct")
    wrong = stored_account(Security.STARTTLS, ca_file=None, fingerprint="00" * 32)
    with pytest.raises(SendError) as caught:
        send_one(
            get_backend(wrong.settings, account="acct", accounts=wrong),
            Outgoing(reply(), ("bob@example.net",)),
        )
    assert caught.value.code == Code.TLS_ERROR
    assert len(smtp_server.auth_attempts) == 1  # the first send's only: no password sent


def test_the_recording_backend_records_and_sends_nothing(
    stored_account: Store, smtp_server: Any
) -> None:
    accounts = stored_account()
    settings = load_settings(
        {"MAILMATCH_HOME": str(accounts.settings.home), "MAILMATCH_MAIL_BACKEND": "recording"}
    )
    outbox: list[Sent] = []
    backend = get_backend(settings, account="acct", accounts=accounts)
    assert isinstance(backend, outbound.RecordingBackend)
    backend.outbox = outbox

    message = reply(bcc="boss@example.org")
    result = send_one(backend, Outgoing.from_headers(message))

    [sent] = outbox
    assert sent.envelope.mail_from == USER
    assert sent.envelope.recipients == result.accepted == ("bob@example.net", "boss@example.org")
    assert b"Bcc" not in sent.envelope.data
    assert sent.envelope.message_id == message["Message-ID"]
    assert smtp_server.received == [] and smtp_server.auth_attempts == []


def test_a_dotted_path_chooses_the_backend(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "MAILMATCH_HOME": str(tmp_path),
            "MAILMATCH_MAIL_BACKEND": "mailmatch.outbound.recording.RecordingBackend",
        }
    )
    backend = get_backend(settings)
    assert isinstance(backend, outbound.RecordingBackend)
    with pytest.raises(ConfigError):
        get_backend(settings, backend="no.such.Backend")
