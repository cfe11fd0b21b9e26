"""Sending mail: one small interface, backends chosen by a setting (Django's mail backends).

* :class:`MailBackend`: ``send(messages) -> list[SendResult]``; :func:`send_one` for one;
* ``smtp`` (:class:`~mailmatch.outbound.smtp.SmtpBackend`): through a stored account's server;
* ``recording`` (:class:`~mailmatch.outbound.recording.RecordingBackend`): sends nothing,
  records in ``outbox``, for tests;
* or a dotted path ``package.module.Class`` (or ``package.module:Class``) to any class with a
  ``from_settings(settings, *, account, accounts)`` class method.

``MAILMATCH_MAIL_BACKEND`` chooses (default ``smtp``); :func:`get_backend` is the one factory.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Protocol, cast

from mailmatch.accounts.service import AccountService
from mailmatch.config import Settings
from mailmatch.errors import ConfigError
from mailmatch.outbound.errors import SendError
from mailmatch.outbound.message import Outgoing, Refusal, SendResult
from mailmatch.outbound.recording import RecordingBackend
from mailmatch.outbound.smtp import SmtpBackend


class MailBackend(Protocol):
    def send(self, messages: Sequence[Outgoing]) -> list[SendResult]:
        """Send each message to exactly its envelope recipients; raise :class:`SendError`."""
        ...


class BackendFactory(Protocol):
    def from_settings(
        self,
        settings: Settings,
        *,
        account: str | None = None,
        accounts: AccountService | None = None,
    ) -> MailBackend: ...


BACKENDS: dict[str, BackendFactory] = {"smtp": SmtpBackend, "recording": RecordingBackend}


def _load(path: str) -> BackendFactory:
    module_name, sep, name = path.partition(":")
    if not sep:
        module_name, _, name = path.rpartition(".")
    try:
        found = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigError(
            f"MAILMATCH_MAIL_BACKEND={path!r} names no class ({exc})",
            advice=["use smtp, recording or a dotted path such as package.module.Class"],
        ) from None
    if not callable(getattr(found, "from_settings", None)):
        raise ConfigError(f"mail backend {path!r} has no from_settings() class method")
    return cast(BackendFactory, found)


def get_backend(
    settings: Settings,
    *,
    account: str | None = None,
    accounts: AccountService | None = None,
    backend: str | None = None,
) -> MailBackend:
    """The configured backend; ``account`` is the stored account to send from (smtp needs it),
    ``backend`` overrides the setting."""
    name = backend or settings.mail_backend
    factory = BACKENDS.get(name) or _load(name)
    return factory.from_settings(settings, account=account, accounts=accounts)


def send_one(backend: MailBackend, message: Outgoing) -> SendResult:
    return backend.send([message])[0]


__all__ = [
    "MailBackend",
    "Outgoing",
    "RecordingBackend",
    "Refusal",
    "SendError",
    "SendResult",
    "SmtpBackend",
    "get_backend",
    "send_one",
]
