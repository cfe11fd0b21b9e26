"""The harness itself: each server answers the way the connection tests rely on.

If one of these fails, the connection tests that use the same server would fail for the wrong
reason, so these pin the exact replies (Dovecot's wire texts, aiosmtpd's 535) and the behaviour
of the scripted and bare servers.
"""

from __future__ import annotations

import hashlib
import os
import smtplib
import socket
import ssl
from collections.abc import Callable
from pathlib import Path

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from tests.servers.certs import Certs
from tests.servers.dovecot import (
    AUTH_FAILED_REPLY,
    IMAP_DISABLED_REASON,
    IMAP_DISABLED_REPLY,
    NOIMAP_USER,
    PASSWORD,
    USER,
    Dovecot,
)
from tests.servers.scripted import (
    GMAIL_IMAP_APP_PASSWORD_REQUIRED,
    GMAIL_SMTP_APP_PASSWORD_REQUIRED,
    ZOHO_IMAP_NOT_ENABLED,
    ScriptedIMAP,
    ScriptedSMTP,
)
from tests.servers.smtp import SMTPServer
from tests.servers.tcp import SilentServer, TLSServer, closed_port, free_port


def trust(ca_file: str | Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca_file))


def raw_imap_login(
    host: str, port: int, user: str, password: str, ctx: ssl.SSLContext | None, tag: str = "a1"
) -> str:
    """Send one LOGIN with our own tag and return the tagged reply line exactly as sent."""
    with socket.create_connection((host, port), timeout=10) as plain:
        sock = ctx.wrap_socket(plain, server_hostname=host) if ctx else plain
        with sock, sock.makefile("rwb") as f:
            assert f.readline().startswith(b"* OK")
            f.write(f'{tag} LOGIN "{user}" "{password}"\r\n'.encode())
            f.flush()
            while not (line := f.readline()).startswith(tag.encode() + b" "):
                assert line, "connection closed before the tagged reply"
            return line.decode().rstrip("\r\n")


# -- Dovecot -------------------------------------------------------------------------------


def test_dovecot_imaps_login_with_ca_verification(dovecot: Dovecot) -> None:
    with IMAPClient(dovecot.host, port=dovecot.imaps_port, ssl_context=trust(dovecot.ca_file)) as c:
        c.login(USER, PASSWORD)
        folders = {name: flags for flags, _, name in c.list_folders()}
    assert {"INBOX", "Sent", "Junk"} <= set(folders)
    assert b"\\Sent" in folders["Sent"] and b"\\Junk" in folders["Junk"]


def test_dovecot_starttls_login(dovecot: Dovecot) -> None:
    c = IMAPClient(dovecot.host, port=dovecot.imap_port, ssl=False, timeout=10)
    try:
        assert b"STARTTLS" in c.capabilities()
        c.starttls(trust(dovecot.ca_file))
        c.login(USER, PASSWORD)
    finally:
        c.logout()


def test_dovecot_certificate_matches_the_pin(dovecot: Dovecot) -> None:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection((dovecot.host, dovecot.imaps_port), timeout=10) as s,
        ctx.wrap_socket(s) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    assert hashlib.sha256(der).hexdigest() == dovecot.fingerprint


def test_dovecot_wrong_password_wire_reply(dovecot: Dovecot) -> None:
    ctx = trust(dovecot.ca_file)
    reply = raw_imap_login(dovecot.host, dovecot.imaps_port, USER, "wrong", ctx, tag="X7")
    assert reply == f"X7 {AUTH_FAILED_REPLY}"
    with (
        pytest.raises(LoginError, match=r"\[AUTHENTICATIONFAILED\]"),
        IMAPClient(dovecot.host, port=dovecot.imaps_port, ssl_context=ctx) as c,
    ):
        c.login("nobody@example.com", "wrong")


def test_dovecot_imap_disabled_user(dovecot: Dovecot) -> None:
    ctx = trust(dovecot.ca_file)
    password = dovecot.users[NOIMAP_USER]
    reply = raw_imap_login(dovecot.host, dovecot.imaps_port, NOIMAP_USER, password, ctx)
    assert reply == f"a1 {IMAP_DISABLED_REPLY}"
    with (
        pytest.raises(LoginError, match=IMAP_DISABLED_REASON.split(".")[0]),
        IMAPClient(dovecot.host, port=dovecot.imaps_port, ssl_context=ctx) as c,
    ):
        c.login(NOIMAP_USER, password)


def test_dovecot_delivered_message_gets_a_uid(dovecot: Dovecot) -> None:
    user = "deliver@example.com"
    dovecot.add_user(user, "pw-deliver")
    path = dovecot.deliver(user, b"Subject: one\r\nMessage-ID: <one@test>\r\n\r\nbody\r\n")
    assert path.parent.name == "cur" and path.stat().st_uid == dovecot.uid
    dovecot.deliver(user, b"Subject: sent\r\n\r\nsent body\r\n", folder="Sent", flags="S")
    with IMAPClient(dovecot.host, port=dovecot.imaps_port, ssl_context=trust(dovecot.ca_file)) as c:
        c.login(user, "pw-deliver")
        c.select_folder("INBOX", readonly=True)
        uids = c.search(["ALL"])
        fetched = c.fetch(uids, ["BODY.PEEK[]", "FLAGS"])
        c.select_folder("Sent", readonly=True)
        sent = c.fetch(c.search(["ALL"]), ["FLAGS"])
    assert uids == [1]
    assert fetched[1][b"BODY[]"].startswith(b"Subject: one")
    assert b"\\Seen" not in fetched[1][b"FLAGS"]
    assert [b"\\Seen" in d[b"FLAGS"] for d in sent.values()] == [True]


def test_dovecot_add_user_takes_effect_at_once(dovecot: Dovecot) -> None:
    """Changes right after a login (same second, same file size) are seen by the next login."""
    user = "rotate@example.com"
    ctx = trust(dovecot.ca_file)
    dovecot.add_user(user, "pass-1111")
    assert raw_imap_login(dovecot.host, dovecot.imaps_port, user, "pass-1111", ctx).startswith(
        "a1 OK"
    )
    dovecot.add_user(user, "pass-2222")
    assert raw_imap_login(dovecot.host, dovecot.imaps_port, user, "pass-2222", ctx).startswith(
        "a1 OK"
    )
    dovecot.add_user(user, "pass-3333", imap_disabled_reason="IMAP is off for this mailbox.")
    reply = raw_imap_login(dovecot.host, dovecot.imaps_port, user, "pass-3333", ctx)
    assert reply == "a1 NO [CONTACTADMIN] IMAP is off for this mailbox."


def test_dovecot_restart_and_uidvalidity_reset(certs: Certs) -> None:
    """On a private instance: a restart keeps the ports, a reset changes UIDVALIDITY."""
    with Dovecot(certs) as server:
        ctx = trust(server.ca_file)
        server.deliver(USER, b"Subject: x\r\n\r\nx\r\n")

        def uidvalidity() -> int:
            with IMAPClient(server.host, port=server.imaps_port, ssl_context=ctx) as c:
                c.login(USER, PASSWORD)
                return int(c.select_folder("INBOX", readonly=True)[b"UIDVALIDITY"])

        before = uidvalidity()
        server.restart()
        assert uidvalidity() == before
        server.reset_uidvalidity(USER)
        assert uidvalidity() != before
        root = server.root
    assert not root.exists()


# -- aiosmtpd ------------------------------------------------------------------------------


def test_smtp_ssl_and_starttls_login(smtp_server: SMTPServer) -> None:
    ctx = trust(smtp_server.ca_file)
    with smtplib.SMTP_SSL(smtp_server.host, smtp_server.ssl_port, context=ctx, timeout=10) as s:
        assert s.login(USER, PASSWORD)[0] == 235
    with smtplib.SMTP(smtp_server.host, smtp_server.starttls_port, timeout=10) as s:
        s.ehlo()
        assert not s.has_extn("auth")  # AUTH only after STARTTLS
        s.starttls(context=ctx)
        s.ehlo()
        assert s.has_extn("auth")
        s.user, s.password = USER, PASSWORD
        assert s.auth("LOGIN", s.auth_login, initial_response_ok=False)[0] == 235
    assert smtp_server.received == []


def test_smtp_wrong_password_is_535(smtp_server: SMTPServer) -> None:
    ctx = trust(smtp_server.ca_file)
    with (
        smtplib.SMTP_SSL(smtp_server.host, smtp_server.ssl_port, context=ctx, timeout=10) as s,
        pytest.raises(smtplib.SMTPAuthenticationError) as info,
    ):
        s.login(USER, "wrong")
    assert info.value.smtp_code == 535
    assert info.value.smtp_error == b"5.7.8 Authentication credentials invalid"


def test_smtp_records_mail(certs: Certs) -> None:
    """On a private server, so the shared one's ``received`` stays empty for other tests."""
    server = SMTPServer(certs).start()
    try:
        ctx = trust(server.ca_file)
        with smtplib.SMTP_SSL(server.host, server.ssl_port, context=ctx, timeout=10) as s:
            with pytest.raises(smtplib.SMTPSenderRefused):
                s.sendmail(USER, ["to@example.com"], b"Subject: t\r\n\r\nx\r\n")  # no AUTH yet
            s.login(USER, PASSWORD)
            s.sendmail(USER, ["to@example.com"], b"Subject: t\r\n\r\nx\r\n")
        assert [(m.mail_from, m.rcpt_tos, m.login) for m in server.received] == [
            (USER, ("to@example.com",), USER)
        ]
        assert server.mail_from == [USER]
        assert [a.success for a in server.auth_attempts] == [True]
    finally:
        server.stop()


# -- scripted servers ----------------------------------------------------------------------


def test_scripted_imap_replays_gmail(scripted_imap: Callable[..., ScriptedIMAP]) -> None:
    fake = scripted_imap(login_reply=GMAIL_IMAP_APP_PASSWORD_REQUIRED)
    reply = raw_imap_login(fake.host, fake.port, "me@gmail.com", "secret", None, tag="Q9")
    assert reply == f"Q9 {GMAIL_IMAP_APP_PASSWORD_REQUIRED}"
    with (
        pytest.raises(LoginError, match="Application-specific password required"),
        IMAPClient(fake.host, port=fake.port, ssl=False, timeout=5) as c,
    ):
        c.login("me@gmail.com", "secret")
    assert fake.commands.count("LOGIN") == 2 and "LOGOUT" in fake.commands


def test_scripted_imap_authenticate_and_tls(
    scripted_imap: Callable[..., ScriptedIMAP], certs: Certs
) -> None:
    fake = scripted_imap(login_reply=ZOHO_IMAP_NOT_ENABLED, tls=True)
    ctx = trust(certs.ca_file)
    with (
        pytest.raises(LoginError, match="yet to enable IMAP"),
        IMAPClient(fake.host, port=fake.port, ssl_context=ctx, timeout=5) as c,
    ):
        c.plain_login("me@zoho.com", "secret")  # AUTHENTICATE PLAIN after "+"
    with (
        socket.create_connection((fake.host, fake.port), timeout=5) as plain,
        ctx.wrap_socket(plain, server_hostname=fake.host) as s,
        s.makefile("rwb") as f,
    ):
        f.readline()
        f.write(b"t1 AUTHENTICATE PLAIN AG1lQHpvaG8uY29tAHNlY3JldA==\r\n")  # SASL-IR
        f.flush()
        assert f.readline().decode() == f"t1 {ZOHO_IMAP_NOT_ENABLED}\r\n"


def test_scripted_smtp_replays_gmail_534(scripted_smtp: Callable[..., ScriptedSMTP]) -> None:
    fake = scripted_smtp(auth_reply=GMAIL_SMTP_APP_PASSWORD_REQUIRED)
    with smtplib.SMTP(fake.host, fake.port, timeout=5) as s:
        with pytest.raises(smtplib.SMTPAuthenticationError) as info:
            s.login("me@gmail.com", "secret")  # AUTH PLAIN with initial response
        s.user, s.password = "me@gmail.com", "secret"
        with pytest.raises(smtplib.SMTPAuthenticationError) as login_info:
            s.auth("LOGIN", s.auth_login, initial_response_ok=False)  # two 334 prompts
    assert info.value.smtp_code == 534
    error = info.value.smtp_error
    text = error.decode() if isinstance(error, bytes) else error
    assert text.splitlines() == [line[4:] for line in GMAIL_SMTP_APP_PASSWORD_REQUIRED]
    assert login_info.value.smtp_code == 534
    # smtplib's login() tries PLAIN (initial response inline), then LOGIN (username inline).
    assert fake.commands == ["EHLO", "AUTH", "AUTH", "AUTH", "QUIT"]
    mechanisms = [line.split(" ")[1] for line in fake.lines if line.startswith("AUTH ")]
    assert mechanisms == ["PLAIN", "LOGIN", "LOGIN"]
    assert fake.lines[1] == "AUTH PLAIN AG1lQGdtYWlsLmNvbQBzZWNyZXQ="


def test_scripted_smtp_string_reply_and_starttls(
    scripted_smtp: Callable[..., ScriptedSMTP], certs: Certs
) -> None:
    fake = scripted_smtp(
        auth_reply="535-5.7.8 Username and Password not accepted.\r\n535 5.7.8  Learn more",
        starttls=True,
    )
    with smtplib.SMTP(fake.host, fake.port, timeout=5) as s:
        s.starttls(context=trust(certs.ca_file))
        with pytest.raises(smtplib.SMTPAuthenticationError) as info:
            s.login("me@gmail.com", "secret")
    assert info.value.smtp_code == 535
    assert b"Username and Password not accepted." in info.value.smtp_error


# -- bare TCP/TLS helpers ------------------------------------------------------------------


def test_closed_port_refuses() -> None:
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("localhost", closed_port()), timeout=5)
    assert closed_port() != free_port()


def test_silent_server_times_out(silent_server: SilentServer) -> None:
    with socket.create_connection((silent_server.host, silent_server.port), timeout=5) as s:
        s.settimeout(0.2)
        with pytest.raises(TimeoutError):
            s.recv(1)


def test_expired_and_selfsigned_certificates(
    certs: Certs, expired_tls_server: TLSServer, selfsigned_tls_server: TLSServer
) -> None:
    ctx = trust(certs.ca_file)
    for server, words in ((expired_tls_server, "expired"), (selfsigned_tls_server, "self")):
        with (
            socket.create_connection((server.host, server.port), timeout=5) as s,
            pytest.raises(ssl.SSLCertVerificationError, match=words),
        ):
            ctx.wrap_socket(s, server_hostname=server.host)
    unverified = ssl.create_default_context()
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE
    address = (selfsigned_tls_server.host, selfsigned_tls_server.port)
    with socket.create_connection(address, timeout=5) as s, unverified.wrap_socket(s) as tls:
        der = tls.getpeercert(binary_form=True)
        assert tls.recv(100).startswith(b"* OK")
    assert der is not None
    assert hashlib.sha256(der).hexdigest() == certs.selfsigned_fingerprint


def test_mailmatch_env(mailmatch_env: Path) -> None:
    assert os.environ["MAILMATCH_HOME"] == str(mailmatch_env)
    assert mailmatch_env.is_dir()
    assert [k for k in os.environ if k.startswith("MAILMATCH_")] == ["MAILMATCH_HOME"]
