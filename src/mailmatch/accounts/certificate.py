"""The certificate a server presented, read without trusting it, so the user can decide to pin it.

When verification fails (self-signed, unknown CA, wrong host name, expired), telling the user
"pin the fingerprint" is useless unless we also tell them the fingerprint: otherwise they must run
openssl themselves. :func:`fetch_certificate` therefore opens a *second* connection with
verification off, only to read the certificate: it never logs in and never sends a credential
(implicit TLS: the handshake and nothing else; STARTTLS: the greeting, the capability exchange
and STARTTLS, then a polite LOGOUT/QUIT). Everything it returns is shown to the user, who
compares it with what their own server or Proton Mail Bridge displays.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import imaplib
import smtplib
import socket
import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mailmatch.providers.models import Protocol, Security, Server

if TYPE_CHECKING:  # cryptography's x509 costs ~70 ms to import: only a failed TLS check needs it
    from cryptography import x509


@dataclass(frozen=True)
class PeerCertificate:
    """What a server presented. ``fingerprint`` is in the form ``--cert-fingerprint`` stores.

    ``can_pin`` is false where pinning would be the wrong fix: a catalog provider's public
    servers always present publicly trusted certificates, so a failure there means interception.
    """

    fingerprint: str  # SHA-256 of the DER certificate, 64 lowercase hex digits
    subject: str | None  # the subject's common name
    issuer: str | None  # the issuer's common name
    names: tuple[str, ...]  # subject alternative names (DNS names and IP addresses)
    not_before: dt.datetime
    not_after: dt.datetime
    self_signed: bool
    can_pin: bool = True

    @property
    def expired(self) -> bool:
        return self.not_after < dt.datetime.now(dt.UTC)

    @property
    def colon_fingerprint(self) -> str:
        """``AB:CD:...``, the way openssl, browsers and Bridge display it (easier to compare)."""
        fp = self.fingerprint.upper()
        return ":".join(fp[i : i + 2] for i in range(0, len(fp), 2))

    def to_json(self) -> dict[str, Any]:
        return {
            "fingerprint_sha256": self.fingerprint,
            "subject": self.subject,
            "issuer": self.issuer,
            "names": list(self.names),
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "self_signed": self.self_signed,
            "expired": self.expired,
            "can_pin": self.can_pin,
        }


def _common_name(name: x509.Name) -> str | None:
    from cryptography.x509.oid import NameOID

    attrs = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not attrs:
        return name.rfc4514_string() or None
    value = attrs[0].value
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _names(cert: x509.Certificate) -> tuple[str, ...]:
    from cryptography import x509

    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ()
    dns = san.get_values_for_type(x509.DNSName)
    ips = [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    return (*dns, *ips)


def describe(der: bytes) -> PeerCertificate:
    """Fingerprint, names and dates of a DER certificate (nothing here is verified)."""
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    return PeerCertificate(
        fingerprint=hashlib.sha256(der).hexdigest(),
        subject=_common_name(cert.subject),
        issuer=_common_name(cert.issuer),
        names=_names(cert),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        self_signed=cert.issuer == cert.subject,
    )


def peer_certificate(sock: object) -> PeerCertificate | None:
    """The certificate of an established TLS socket, or ``None`` (not TLS, none presented)."""
    getpeercert = getattr(sock, "getpeercert", None)
    if getpeercert is None:
        return None
    try:
        der = getpeercert(binary_form=True)
        return describe(der) if der else None
    except (ValueError, OSError):
        return None


def _der(sock: object) -> bytes | None:
    return sock.getpeercert(binary_form=True) if isinstance(sock, ssl.SSLSocket) else None


def _unverified() -> ssl.SSLContext:
    """Verification off: used only to read the certificate, never to send anything secret."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _implicit(server: Server, timeout: float) -> bytes | None:
    with (
        socket.create_connection((server.host, server.port), timeout=timeout) as raw,
        _unverified().wrap_socket(raw, server_hostname=server.host) as tls,
    ):
        return tls.getpeercert(binary_form=True)


def _imap_starttls(server: Server, timeout: float) -> bytes | None:
    imap = imaplib.IMAP4(server.host, server.port, timeout=timeout)
    try:
        imap.starttls(ssl_context=_unverified())
        return _der(imap.sock)
    finally:
        with contextlib.suppress(OSError, imaplib.IMAP4.error, EOFError):
            imap.logout()


def _smtp_starttls(server: Server, timeout: float) -> bytes | None:
    smtp = smtplib.SMTP(
        server.host, server.port, local_hostname="mailmatch.localdomain", timeout=timeout
    )
    try:
        smtp.ehlo()
        smtp.starttls(context=_unverified())
        return _der(smtp.sock)
    finally:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            smtp.close()


def fetch_certificate(server: Server, protocol: Protocol, timeout: float) -> PeerCertificate | None:
    """Connect once more, verification off, and read the certificate; ``None`` when that fails.

    Best effort by design: the diagnosis is already made, this only adds evidence to it.
    """
    if server.security is Security.PLAIN:
        return None
    try:
        if server.security is Security.SSL:
            der = _implicit(server, timeout)
        elif protocol is Protocol.IMAP:
            der = _imap_starttls(server, timeout)
        else:
            der = _smtp_starttls(server, timeout)
        return describe(der) if der else None
    except (OSError, EOFError, ValueError, imaplib.IMAP4.error, smtplib.SMTPException):
        return None
