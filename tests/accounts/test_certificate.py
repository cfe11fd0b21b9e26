"""An untrusted certificate is shown, so it can be pinned: against real TLS servers.

The fingerprint the diagnosis carries is compared with the SHA-256 of the certificate *file*,
computed here with ``cryptography``, not with what the code under test computed; and every test
checks that the second, unverified connection sent no login.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from mailmatch.accounts.advice import Surface, advice_for, publicly_trusted
from mailmatch.accounts.certificate import PeerCertificate
from mailmatch.accounts.probe import probe_imap, probe_smtp
from mailmatch.accounts.tls import TlsOptions
from mailmatch.errors import Code, Diagnosis
from mailmatch.imap.session import Credentials, ProbeContext
from mailmatch.providers.catalog import load_catalog
from mailmatch.providers.models import Protocol, Security, Server

USER, PASSWORD = "user@example.com", "abcd-efgh-ijkl-mnop"

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


def file_certificate(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def sha256_of(path: Path) -> str:
    return hashlib.sha256(file_certificate(path).public_bytes(Encoding.DER)).hexdigest()


def inspecting(fingerprint: str | None = None, ca_file: str | None = None) -> ProbeContext:
    return ProbeContext(
        provider=None,
        tls=TlsOptions(ca_file=ca_file, fingerprint=fingerprint),
        timeout=5,
        inspect_certificate=True,
    )


def presented(diagnosis: Diagnosis | None) -> PeerCertificate:
    assert diagnosis is not None and diagnosis.code is Code.TLS_ERROR
    assert diagnosis.certificate is not None
    return diagnosis.certificate


def test_a_self_signed_certificate_is_described_then_pinning_it_passes_tls(
    selfsigned_tls_server: Any, certs: Any
) -> None:
    server = Server("localhost", selfsigned_tls_server.port, Security.SSL)
    result = probe_imap(server, Credentials(USER, PASSWORD), inspecting())

    cert = presented(result.diagnosis)
    expected = sha256_of(certs.selfsigned_cert)
    assert cert.fingerprint == expected
    on_file = file_certificate(certs.selfsigned_cert)
    assert (cert.subject, cert.issuer, cert.self_signed) == ("localhost", "localhost", True)
    assert set(cert.names) == {"localhost", "127.0.0.1"}
    assert cert.not_before == on_file.not_valid_before_utc
    assert cert.not_after == on_file.not_valid_after_utc
    assert not cert.expired and cert.can_pin
    assert result.diagnosis is not None
    assert any(f"--cert-fingerprint {expected}" in a for a in result.diagnosis.advice)
    assert any("If this is your own server" in a for a in result.diagnosis.advice)
    assert not any("Bridge" in a for a in result.diagnosis.advice)  # not Bridge's port
    assert any("man-in-the-middle" in a for a in result.diagnosis.advice)
    json = result.to_json()["certificate"]
    assert json["fingerprint_sha256"] == expected and json["names"] == list(cert.names)
    # Neither the verified attempt nor the unverified look sent a single command.
    assert selfsigned_tls_server.lines == []

    pinned = probe_imap(
        server, Credentials(USER, PASSWORD), inspecting(fingerprint=cert.fingerprint)
    )
    assert [(s.name, s.ok) for s in pinned.steps][:2] == [("connect", True), ("tls", True)]


def test_an_expired_certificate_is_described(expired_tls_server: Any, certs: Any) -> None:
    server = Server("localhost", expired_tls_server.port, Security.SSL)
    ctx = inspecting(ca_file=str(certs.ca_file))
    result = probe_imap(server, Credentials(USER, PASSWORD), ctx)

    cert = presented(result.diagnosis)
    assert cert.fingerprint == sha256_of(certs.expired_cert)
    assert cert.expired and not cert.self_signed
    assert cert.issuer == "mailmatch test CA"
    assert result.diagnosis is not None
    assert any("has expired (on " in a for a in result.diagnosis.advice)
    assert expired_tls_server.lines == []


def _new_log(dovecot: Any, before: int) -> str:
    time.sleep(0.3)  # the log process writes asynchronously
    return str(dovecot.log_text()[before:])


@pytest.mark.parametrize("security", [Security.SSL, Security.STARTTLS])
def test_dovecot_with_an_unknown_ca_is_described_without_a_login(
    dovecot: Any, certs: Any, security: Security
) -> None:
    port = dovecot.imaps_port if security is Security.SSL else dovecot.imap_port
    server = Server("localhost", port, security)
    before = len(dovecot.log_text())

    result = probe_imap(server, Credentials(USER, PASSWORD), inspecting())

    cert = presented(result.diagnosis)
    assert cert.fingerprint == sha256_of(certs.cert) == dovecot.fingerprint
    assert cert.issuer == "mailmatch test CA"
    log = _new_log(dovecot, before)
    assert f"user=<{USER}>" not in log, log  # no login with the password, verified or not
    assert "no auth attempts" in log, log

    pinned = probe_imap(
        server, Credentials(USER, PASSWORD), inspecting(fingerprint=cert.fingerprint)
    )
    assert pinned.ok, pinned.to_json()


def test_smtp_starttls_certificate_is_read_without_auth(scripted_smtp: Any, certs: Any) -> None:
    fake = scripted_smtp(starttls=True)
    server = Server("localhost", fake.port, Security.STARTTLS)
    result = probe_smtp(server, Credentials(USER, PASSWORD), inspecting())

    cert = presented(result.diagnosis)
    assert cert.fingerprint == sha256_of(certs.cert)
    commands = [line.split(" ", 1)[0].upper() for line in fake.lines]
    assert "AUTH" not in commands and "MAIL" not in commands
    assert "STARTTLS" in commands  # it did read the certificate after STARTTLS


def test_a_public_provider_is_never_offered_a_pin() -> None:
    catalog = load_catalog()
    gmail = catalog.get("gmail")
    assert gmail is not None
    server = gmail.imap[0]
    cert = PeerCertificate("ab" * 32, "imap.gmail.com", "Evil Proxy CA", ("imap.gmail.com",),
                           *_dates(), self_signed=False, can_pin=False)  # fmt: skip
    assert publicly_trusted(gmail, server)
    for surface in Surface:
        advice = " ".join(
            advice_for(Code.TLS_ERROR, protocol=Protocol.IMAP, server=server, provider=gmail,
                       tls_detail="untrusted", certificate=cert, surface=surface)
        )  # fmt: skip
        assert "intercepting the connection" in advice
        assert "Do not pin" in advice
        assert "pin it:" not in advice and "--cert-fingerprint" not in advice
    # A host the catalog does not list for the provider is the user's own: pinning is offered.
    assert not publicly_trusted(gmail, Server("mail.home.example", 993, Security.SSL))
    bridge = next(p for p in catalog if p.app_password.policy.value == "bridge")
    assert not publicly_trusted(bridge, bridge.imap[0])


def _dates() -> tuple[Any, Any]:
    import datetime as dt

    now = dt.datetime.now(dt.UTC)
    return now - dt.timedelta(days=1), now + dt.timedelta(days=30)


def test_web_advice_names_the_pages_controls_not_cli_commands() -> None:
    """Every code, with and without a provider: no CLI command or flag on the web surfaces."""
    catalog = load_catalog()
    cert = PeerCertificate("cd" * 32, "localhost", "localhost", ("localhost",), *_dates(),
                           self_signed=True)  # fmt: skip
    providers = [None, catalog.get("gmail"), catalog.get("gmx"), catalog.get("zoho")]
    details = [None, "untrusted", "expired", "hostname", "fingerprint", "wrong_mode_ssl",
               "not_tls", "no_starttls"]  # fmt: skip
    for surface in (Surface.WIZARD, Surface.ACCOUNTS):
        for code in Code:
            for provider in providers:
                for detail in details if code is Code.TLS_ERROR else [None]:
                    server = Server("mail.home.example", 993, Security.SSL)
                    lines = advice_for(code, protocol=Protocol.IMAP, server=server,
                                       provider=provider, tls_detail=detail, certificate=cert,
                                       surface=surface)  # fmt: skip
                    text = " ".join(lines)
                    assert "mailmatch accounts" not in text and "mailmatch providers" not in text
                    assert " --" not in text, (surface, code, detail, text)
    gmail = catalog.get("gmail")
    wizard = advice_for(Code.APP_PASSWORD_REQUIRED, protocol=Protocol.IMAP,
                        server=Server("x", 993, Security.SSL), provider=gmail,
                        surface=Surface.WIZARD)  # fmt: skip
    assert "Then paste it in the password field and select Test connection." in wizard
    accounts = advice_for(Code.IMAP_DISABLED, protocol=Protocol.IMAP,
                          server=Server("x", 993, Security.SSL), provider=gmail,
                          surface=Surface.ACCOUNTS)  # fmt: skip
    assert "Then select Test now." in accounts
    pin = advice_for(Code.TLS_ERROR, protocol=Protocol.IMAP, server=Server("x", 993, Security.SSL),
                     provider=None, tls_detail="untrusted", certificate=cert,
                     surface=Surface.WIZARD)  # fmt: skip
    assert any("Trust this certificate" in line for line in pin)  # the box shows the fingerprint
    cli = advice_for(Code.TLS_ERROR, protocol=Protocol.IMAP, server=Server("x", 993, Security.SSL),
                     provider=None, tls_detail="untrusted", certificate=cert)  # fmt: skip
    assert any(f"--cert-fingerprint {cert.fingerprint}" in line for line in cli)
    assert any("--ca-file" in line for line in cli)
