"""The scheduler's report and ``worker --once``: imports by id, and webhooks sent too."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import update

from mailmatch.accounts.service import AccountService, NewAccount, ServerOverride
from mailmatch.accounts.vault import Vault
from mailmatch.config import Settings
from mailmatch.imports.service import ImportService
from mailmatch.jobs.scheduler import run_due
from mailmatch.providers.models import Security
from mailmatch.store.db import open_database
from mailmatch.store.models import Account, Import
from mailmatch.store.workspaces import create_workspace
from mailmatch.sync.runner import ImportRunner
from mailmatch.timeutil import now
from tests.cli import run_mailmatch
from tests.servers.receiver import Receiver
from tests.webhooks.conftest import hooks_for, queue_matched_mail


def test_two_workspaces_imports_of_one_name_are_both_reported_when_skipped(
    settings_for: Callable[..., Settings],
) -> None:
    settings = settings_for()
    db = open_database(settings)
    accounts = AccountService(settings, db, Vault.from_settings(settings))
    team = create_workspace(db, "team")
    for workspace in (accounts, accounts.in_workspace(team)):
        workspace.add(
            NewAccount(
                address="anna@example.test",
                name="acct",
                imap=ServerOverride("imap.example.test", 993, Security.SSL),
                smtp=ServerOverride("smtp.example.test", 465, Security.SSL),
            ),
            "app-password",
            test=False,
        )
        ImportService(db, workspace_id=workspace.workspace_id).create("hourly", "acct", None, 3600)
    with db.session() as session:  # both refused their password after it was last saved
        session.execute(update(Account).values(password_set_at=now() - timedelta(hours=2)))
        session.execute(
            update(Import).values(
                state="needs_app_password",
                last_run_at=now() - timedelta(hours=1),
                next_run_at=now(),
            )
        )

    tick = run_due(ImportRunner(accounts))

    assert tick.ran == []
    assert len(tick.skipped) == 2
    assert (
        sorted((s.name, s.why) for s in tick.skipped.values())
        == [("hourly", "needs_app_password")] * 2
    )


def test_worker_once_delivers_the_due_webhooks(
    settings_for: Callable[..., Settings], receiver: Receiver
) -> None:
    settings = settings_for(allow="127.0.0.1")
    db = open_database(settings)
    hooks_for(settings, db).add(receiver.url, "s3cret", ["message.matched"])
    queue_matched_mail(db, 3)
    db.engine.dispose()

    done = run_mailmatch(
        settings.home, "worker", "--once", env={"MAILMATCH_ALLOW_INTERNAL": "127.0.0.1"}
    )

    assert done.returncode == 0, done.stderr
    assert len(receiver.received) == 3
    assert "webhooks: 3 delivered" in done.stdout
