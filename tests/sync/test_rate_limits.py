"""Rate-limit answers back off instead of failing.

Dovecot does not throttle, so the provider's exact words (Yahoo's "[UNAVAILABLE] UID FETCH
Service is temporarily not available") are replayed on top of a real Dovecot session: the
engine's first body FETCHes are answered with them, the rest goes to the server.
"""

from __future__ import annotations

from typing import Any

import pytest
from imapclient.exceptions import IMAPClientError

from mailmatch.imap.bodies import fetch_bodies
from mailmatch.imports.service import ImportService
from mailmatch.sync import engine
from mailmatch.sync.runner import ImportRunner
from tests.sync.conftest import Mailbox, message

YAHOO_THROTTLE = "fetch failed: [UNAVAILABLE] UID FETCH Service is temporarily not available"


def throttled(monkeypatch: pytest.MonkeyPatch, times: int) -> None:
    """The first ``times`` body FETCHes of the engine get the provider's refusal."""
    left = [times]

    def fetch(client: Any, uids: list[int]) -> dict[int, bytes]:
        if left[0] > 0:
            left[0] -= 1
            raise IMAPClientError(YAHOO_THROTTLE)
        return fetch_bodies(client, uids)

    monkeypatch.setattr(engine, "fetch_bodies", fetch)


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


def forgetful(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine's first body FETCH answer silently leaves one message out."""
    dropped = [False]

    def fetch(client: Any, uids: list[int]) -> dict[int, bytes]:
        answer = fetch_bodies(client, uids)
        if not dropped[0] and len(answer) > 1:
            dropped[0] = True
            answer.pop(sorted(answer)[1])
        return answer

    monkeypatch.setattr(engine, "fetch_bodies", fetch)


def test_a_message_the_server_left_out_is_fetched_on_the_next_run(
    mailbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    box: Mailbox = mailbox()
    for n in range(6):
        box.deliver(message(n))
    ImportService(box.accounts.db).create("imp", "acct", ["INBOX"], None)
    forgetful(monkeypatch)

    first = ImportRunner(box.accounts).run("imp")
    assert first.new == 5 and first.folders[0].unfetched

    monkeypatch.setattr(engine, "fetch_bodies", fetch_bodies)
    second = ImportRunner(box.accounts).run("imp")
    assert second.new == 1
