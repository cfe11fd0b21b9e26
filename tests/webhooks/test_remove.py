"""A webhook can be removed, with its delivery log; what it had pending is never sent."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import pytest

from mailmatch.config import Settings
from mailmatch.errors import NotFound
from mailmatch.store.db import open_database
from tests.cli import run_mailmatch
from tests.servers.receiver import Receiver
from tests.webhooks.conftest import hooks_for, queue_matched_mail


def test_a_removed_webhook_sends_nothing_more(
    settings_for: Callable[..., Settings], receiver: Receiver
) -> None:
    settings = settings_for(allow="127.0.0.1")
    db = open_database(settings)
    hooks = hooks_for(settings, db)
    kept = hooks.add(receiver.url + "?kept", "s3cret", ["message.matched"])
    dropped = hooks.add(receiver.url + "?dropped", "s3cret", ["message.matched"])
    queue_matched_mail(db, 2)

    gone = hooks.remove(dropped["id"])
    report = hooks.deliver_due(backoff=timedelta(0))

    assert gone == {"id": dropped["id"], "url": dropped["url"], "deliveries_removed": 2}
    assert [h["id"] for h in hooks.all()] == [kept["id"]]
    assert report.delivered == 2 and len(receiver.received) == 2
    with pytest.raises(NotFound):
        hooks.log(dropped["id"])
    with pytest.raises(NotFound):
        hooks.remove(dropped["id"])


def test_webhooks_remove_on_the_command_line(settings_for: Callable[..., Settings]) -> None:
    home = settings_for().home
    env = {"MAILMATCH_ALLOW_INTERNAL": "crm.example.com"}  # opened: not looked up
    added = run_mailmatch(
        home, "webhooks", "add", "https://crm.example.com/in", "--secret", "s", "--json", env=env
    )
    hook_id = json.loads(added.stdout)["id"]

    removed = run_mailmatch(home, "webhooks", "remove", str(hook_id), "--json")
    again = run_mailmatch(home, "webhooks", "remove", str(hook_id))

    assert removed.returncode == 0, removed.stderr
    assert json.loads(removed.stdout)["id"] == hook_id
    assert json.loads(run_mailmatch(home, "webhooks", "list", "--json").stdout) == []
    assert again.returncode != 0 and "no webhook" in (again.stdout + again.stderr)


def test_the_command_line_refuses_an_internal_webhook_unless_opened(
    settings_for: Callable[..., Settings],
) -> None:
    home = settings_for().home

    refused = run_mailmatch(
        home, "webhooks", "add", "http://169.254.169.254/latest/", "--secret", "s", "--json"
    )

    assert refused.returncode != 0
    assert "link-local" in refused.stdout + refused.stderr
    assert "invalid_input" in refused.stdout + refused.stderr
