"""A backend that sends nothing and records everything, for tests (Django's locmem backend).

Every instance appends to the module-level :data:`outbox` unless given a list of its own, so a
test can look at what code deep inside a service sent without reaching for its backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mailmatch.outbound.message import Envelope, Outgoing, SendResult, prepare

if TYPE_CHECKING:
    from mailmatch.accounts.service import AccountService
    from mailmatch.config import Settings

DEFAULT_FROM = "mailmatch@localhost"


@dataclass(frozen=True)
class Sent:
    """One recorded message: the envelope and bytes a server would have received."""

    envelope: Envelope
    outgoing: Outgoing = field(repr=False)


outbox: list[Sent] = []


class RecordingBackend:
    """Accepts every recipient and records the message in ``outbox``."""

    def __init__(self, outbox_list: list[Sent] | None = None, default_from: str = DEFAULT_FROM):
        self.outbox = outbox if outbox_list is None else outbox_list
        self.default_from = default_from

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        account: str | None = None,
        accounts: AccountService | None = None,
    ) -> RecordingBackend:
        address = accounts.get(account).address if accounts and account else DEFAULT_FROM
        return cls(default_from=address)

    def send(self, messages: Sequence[Outgoing]) -> list[SendResult]:
        results = []
        for outgoing in messages:
            envelope = prepare(outgoing, self.default_from)
            self.outbox.append(Sent(envelope, outgoing))
            results.append(SendResult(envelope.message_id, envelope.mail_from, envelope.recipients))
        return results
