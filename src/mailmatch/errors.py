"""One error taxonomy for everything a user can see fail.

Every failure carries a stable ``code`` (scripts and the API key on it), whether retrying may
help, the server's own words when a server spoke, and the next steps for the user. Modelled on
aiosmtplib's hierarchy: one base class, the server's text kept verbatim.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mailmatch.accounts.certificate import PeerCertificate


class Code(StrEnum):
    """Diagnosis codes. The values are a public contract (CLI JSON, API)."""

    AUTH_FAILED = "auth_failed"
    APP_PASSWORD_REQUIRED = "app_password_required"
    IMAP_DISABLED = "imap_disabled"
    OAUTH_REQUIRED = "oauth_required"  # password logins switched off (Outlook.com since 2024)
    HOST_NOT_FOUND = "host_not_found"
    CONNECTION_REFUSED = "connection_refused"
    TIMEOUT = "timeout"
    TLS_ERROR = "tls_error"
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    # RFC 5530 [CONTACTADMIN]: the login may be right, the provider has blocked the account
    ACCOUNT_BLOCKED = "account_blocked"


RETRYABLE = frozenset({Code.TIMEOUT, Code.RATE_LIMITED, Code.SERVER_ERROR})


@dataclass
class Diagnosis:
    """Why one step of a connection failed, in words the user can act on."""

    code: Code
    message: str
    server_text: str | None = None
    advice: list[str] = field(default_factory=list)
    # The certificate the server presented when TLS verification failed, read on a separate
    # unverified connection (see ``accounts.certificate``): what the user needs to pin it.
    certificate: PeerCertificate | None = None

    @property
    def retryable(self) -> bool:
        return self.code in RETRYABLE


class MailmatchError(Exception):
    """Base of every error mailmatch raises on purpose."""

    code: str = "error"

    def __init__(self, message: str, *, advice: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.advice = advice or []


class ConfigError(MailmatchError):
    code = "config_error"


class NotFound(MailmatchError):
    code = "not_found"


class AlreadyExists(MailmatchError):
    code = "already_exists"


class InvalidInput(MailmatchError):
    code = "invalid_input"


class VaultError(MailmatchError):
    """The credentials vault cannot decrypt: a missing or rotated-away key."""

    code = "vault_error"


class DiskFull(MailmatchError):
    """A write failed for lack of space (ENOSPC, SQLite's SQLITE_FULL, PostgreSQL's 53100).

    Not a network failure: retrying before space is freed cannot help. What was committed
    before stays, with its checkpoint; the next run after space is freed continues from it.
    """

    code = "disk_full"

    def __init__(self, path: str, free_bytes: int | None, server_text: str | None = None) -> None:
        free = "free space unknown" if free_bytes is None else f"{_mb(free_bytes)} free"
        super().__init__(
            f"the disk is full: {path} ({free})",
            advice=[
                f"free some space on the disk that holds {path} (or point MAILMATCH_HOME at a "
                "larger one), then run again: what was stored is kept and the import continues "
                "where it stopped",
            ],
        )
        self.path = path
        self.free_bytes = free_bytes
        self.server_text = server_text

    def to_error(self) -> dict[str, object]:
        """The entry a run's ``errors`` list and an import's ``last_error`` hold."""
        return {
            "folder": None,
            "code": self.code,
            "message": self.message,
            "server_text": self.server_text,
            "advice": self.advice,
            "path": self.path,
            "free_bytes": self.free_bytes,
        }


def _mb(count: int) -> str:
    return f"{count / 1024 / 1024:.1f} MiB"


class ConnectError(MailmatchError):
    """A connection attempt failed; carries the full diagnosis."""

    def __init__(self, diagnosis: Diagnosis) -> None:
        super().__init__(diagnosis.message, advice=diagnosis.advice)
        self.diagnosis = diagnosis
        self.code = str(diagnosis.code)
