"""TLS contexts for the connection test and the importer.

Certificates are always verified. For self-signed servers (Proton Mail Bridge, home servers)
the user either names a CA file that signed the certificate, or pins the certificate's SHA-256
fingerprint; a pin replaces the chain check with an exact comparison, done right after the
handshake and before anything is sent.
"""

from __future__ import annotations

import hashlib
import ssl
from dataclasses import dataclass


@dataclass(frozen=True)
class TlsOptions:
    ca_file: str | None = None
    fingerprint: str | None = None  # SHA-256 of the DER certificate, hex (colons allowed)

    def context(self) -> ssl.SSLContext:
        if self.fingerprint:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            return ctx
        return ssl.create_default_context(cafile=self.ca_file)

    def check_peer(self, sock: object) -> None:
        """Raise ``ssl.SSLError`` when a pinned fingerprint differs from the peer's certificate."""
        if not self.fingerprint:
            return
        getpeercert = getattr(sock, "getpeercert", None)
        der = getpeercert(binary_form=True) if getpeercert else None
        if not der:
            raise ssl.SSLError("fingerprint: the server presented no certificate")
        actual = hashlib.sha256(der).hexdigest()
        if actual != normalize_fingerprint(self.fingerprint):
            raise ssl.SSLError(f"fingerprint mismatch: the server's certificate is {actual}")


def normalize_fingerprint(value: str) -> str:
    return value.replace(":", "").replace(" ", "").lower()
