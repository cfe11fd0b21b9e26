"""Rate-limit answers back off instead of failing.

Dovecot does not throttle, so the provider's exact words (Yahoo's "[UNAVAILABLE] UID FETCH
Service is temporarily not available") are replayed on top of a real Dovecot session: the
first FETCH is answered with them, the rest goes to the server.
"""

from __future__ import annotations

from typing import Any

import pytest
from imapclient.exceptions import IMAPClientError

from mailmatch.imports.service import ImportService
from mailmatch.sync.runner import ImportRunner
from tests.sync.conftest import Mailbox, message

YAHOO_THROTTLE = "fetch failed: [UNAVAILABLE] UID FETCH Service is temporarily not available"


class Throttling:
    """A real IMAPClient whose first ``times`` FETCH commands get the provider's refusal."""

    def __init__(self, client: Any, times: int) -> None:
        self._client, self.times = client, times

    def fetch(self, *args: Any, **kw: Any) -> Any:
        if self.times > 0:
            self.times -= 1
            raise IMAPClientError(YAHOO_THROTTLE)
        return self._client.fetch(*args, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def throttled(monkeypatch: pytest.MonkeyPatch, times: int) -> None:
    real = ImportRunner._connect
    monkeypatch.setattr(
        ImportRunner,
        "_connect",
        lambda self, name, worked: Throttling(real(self, name, worked), times),
    )


def test_a_throttled_fetch_waits_and_continues(
    mailbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    box: Mailbox = mailbox()
    for n in range(5):
        box.deliver(message(n))
    ImportService(box.accounts.db).create("imp", "acct", ["INBOX"], None)
    throttled(monkeypatch, times=2)
    waits: list[float] = []

    result = ImportRunner(box.accounts, sleep=waits.append).run("imp")

    assert result.state == "ok" and result.new == 5
    assert waits == [2.0, 8.0]  # backed off twice, then went on


def test_a_server_that_keeps_throttling_marks_the_import_rate_limited(
    mailbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    box: Mailbox = mailbox()
    box.deliver(message(1))
    ImportService(box.accounts.db).create("imp", "acct", ["INBOX"], 1200)
    throttled(monkeypatch, times=100)

    result = ImportRunner(box.accounts, sleep=lambda _s: None).run("imp")

    assert result.state == "rate_limited"
    view = ImportService(box.accounts.db).get("imp")
    assert view.state == "rate_limited"
    assert view.last_error is not None and "[UNAVAILABLE]" in view.last_error["server_text"]


class Forgetful:
    """A real IMAPClient whose first FETCH answer silently leaves one message out."""

    def __init__(self, client: Any) -> None:
        self._client, self.dropped = client, False

    def fetch(self, uids: Any, items: Any) -> Any:
        answer = self._client.fetch(uids, items)
        if not self.dropped and len(answer) > 1:
            self.dropped = True
            answer.pop(sorted(answer)[1])
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def test_a_message_the_server_left_out_is_fetched_on_the_next_run(
    mailbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    box: Mailbox = mailbox()
    for n in range(6):
        box.deliver(message(n))
    ImportService(box.accounts.db).create("imp", "acct", ["INBOX"], None)
    real = ImportRunner._connect
    monkeypatch.setattr(
        ImportRunner, "_connect", lambda self, name, worked: Forgetful(real(self, name, worked))
    )

    first = ImportRunner(box.accounts).run("imp")
    assert first.new == 5 and first.folders[0].unfetched

    monkeypatch.setattr(ImportRunner, "_connect", real)
    second = ImportRunner(box.accounts).run("imp")
    assert second.new == 1
