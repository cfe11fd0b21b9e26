"""``mailmatch serve`` runs due imports itself: the scheduler thread inside the web app."""

from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient

from mailmatch.imports.service import ImportService
from mailmatch.store.messages import MessageStore
from mailmatch.store.workspaces import create_workspace
from mailmatch.web.app import create_app
from tests.sync.conftest import Mailbox, message
from tests.sync.test_workspaces_imap import connect_in


def test_the_web_app_runs_every_workspaces_due_imports(mailbox: Any) -> None:
    box: Mailbox = mailbox()
    for n in range(3):
        box.deliver(message(n))
    db = box.accounts.db
    team = create_workspace(db, "team")
    connect_in(box, team)
    ImportService(db).create("every-hour", "acct", None, 3600)
    ImportService(db, workspace_id=team).create("every-hour", "acct", None, 3600)
    default_store, team_store = MessageStore(db), MessageStore(db, workspace_id=team)

    app = create_app(box.accounts.settings, scheduler=True, scheduler_interval=0.2)
    with TestClient(app):  # the lifespan starts the scheduler and stops it on exit
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if default_store.count() == 3 and team_store.count() == 3:
                break
            time.sleep(0.2)
    assert (default_store.count(), team_store.count()) == (3, 3)
    states = [v.state for v in ImportService(db).list()]
    states += [v.state for v in ImportService(db, workspace_id=team).list()]
    assert states == ["ok", "ok"]
    assert box.seen_count() == 0
