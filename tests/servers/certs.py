"""Test certificates: a private CA and good, expired and self-signed ``localhost`` certificates.

The connection test must tell apart "trusted", "expired" and "not trusted" certificates, and pin a
certificate by fingerprint, so the servers need real certificates of each kind. They are made with
``cryptography`` (no ``openssl`` binary), with ECDSA P-256 keys because they take microseconds to
generate, and they carry the extensions strict verifiers insist on (SAN, key identifiers, basic
constraints, key usage), so a failure in a test is the one the test meant and not a side effect.

Clients must connect to ``localhost`` (the name in the certificates), not ``127.0.0.1``, when they
verify the host name; the IP address is in the SAN as well for clients that connect by address.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["Certs", "make_certs"]

HOSTNAME = "localhost"


@dataclass(frozen=True)
class Certs:
    """Where the generated PEM files are, plus the good certificate's pin.

    ``fingerprint`` is the SHA-256 of the DER of ``cert`` as lowercase hex without separators
    (64 characters), the form certificate pinning compares; ``selfsigned_fingerprint`` is the
    same for the self-signed certificate, for "pin an otherwise untrusted certificate" tests.
    """

    directory: Path
    ca_file: Path
    ca_key: Path
    cert: Path
    key: Path
    expired_cert: Path
    expired_key: Path
    selfsigned_cert: Path
    selfsigned_key: Path
    fingerprint: str
    selfsigned_fingerprint: str
    # CA-signed like ``cert`` but for the name ``localhost`` only (no IP address in its SAN):
    # a client connecting to 127.0.0.1 meets a host name mismatch.
    name_only_cert: Path
    name_only_key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _write_cert(path: Path, cert: x509.Certificate) -> str:
    """Write ``cert`` as PEM and return its SHA-256 fingerprint (hex of the DER)."""
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def _leaf(
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    not_before: dt.datetime,
    not_after: dt.datetime,
    *,
    with_ip: bool = True,
) -> x509.Certificate:
    """A ``localhost`` server certificate signed by ``issuer_key`` (itself when self-signed)."""
    names: list[x509.GeneralName] = [x509.DNSName(HOSTNAME)]
    if with_ip:
        names.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(HOSTNAME))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(
            x509.SubjectAlternativeName(names),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    return builder.sign(issuer_key, hashes.SHA256())


def make_certs(directory: Path) -> Certs:
    """Generate the CA and the three ``localhost`` certificates into ``directory``.

    Validity periods start a day in the past so a slightly skewed clock cannot make the good
    certificate "not yet valid"; the expired one ended yesterday, well clear of any skew.
    """
    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    day = dt.timedelta(days=1)

    ca_key = _key()
    ca_name = _name("mailmatch test CA")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - day)
        .not_valid_after(now + 30 * day)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )

    paths = {
        name: directory / f"{name}.pem"
        for name in (
            "ca",
            "ca-key",
            "cert",
            "key",
            "expired-cert",
            "expired-key",
            "selfsigned-cert",
            "selfsigned-key",
            "name-only-cert",
            "name-only-key",
        )
    }
    _write_cert(paths["ca"], ca_cert)
    _write_key(paths["ca-key"], ca_key)

    key = _key()
    fingerprint = _write_cert(paths["cert"], _leaf(key, ca_name, ca_key, now - day, now + 30 * day))
    _write_key(paths["key"], key)

    expired_key = _key()
    _write_cert(
        paths["expired-cert"],
        _leaf(expired_key, ca_name, ca_key, now - 30 * day, now - day),
    )
    _write_key(paths["expired-key"], expired_key)

    selfsigned_key = _key()
    selfsigned_fingerprint = _write_cert(
        paths["selfsigned-cert"],
        _leaf(selfsigned_key, _name(HOSTNAME), selfsigned_key, now - day, now + 30 * day),
    )
    _write_key(paths["selfsigned-key"], selfsigned_key)

    name_only_key = _key()
    _write_cert(
        paths["name-only-cert"],
        _leaf(name_only_key, ca_name, ca_key, now - day, now + 30 * day, with_ip=False),
    )
    _write_key(paths["name-only-key"], name_only_key)

    return Certs(
        directory=directory,
        ca_file=paths["ca"],
        ca_key=paths["ca-key"],
        cert=paths["cert"],
        key=paths["key"],
        expired_cert=paths["expired-cert"],
        expired_key=paths["expired-key"],
        selfsigned_cert=paths["selfsigned-cert"],
        selfsigned_key=paths["selfsigned-key"],
        fingerprint=fingerprint,
        selfsigned_fingerprint=selfsigned_fingerprint,
        name_only_cert=paths["name-only-cert"],
        name_only_key=paths["name-only-key"],
    )
