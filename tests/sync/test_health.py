"""Import health: a revoked password pauses the import; transient failures back off, then alert."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from mailmatch.imports.service import ImportService
from mailmatch.jobs.scheduler import run_due
from mailmatch.store.models import Import
from mailmatch.sync.runner import ImportBlocked
from mailmatch.timeutil import now
from tests.servers.tcp import closed_port
from tests.sync.conftest import Mailbox, message


def test_a_revoked_password_pauses_the_import_until_a_new_one_is_saved(
    mailbox: Any, dovecot: Any
) -> None:
    box: Mailbox = mailbox()
    box.deliver(message(1))
    imports = ImportService(box.accounts.db)
    imports.create("imp", "acct", None, 1200)
    assert box.runner().run("imp").state == "ok"

    dovecot.add_user(box.address, "the-new-one")  # the provider revoked the app password
    failed = box.runner().run("imp")

    assert failed.state == "needs_app_password"
    view = imports.get("imp")
    assert view.last_error is not None and view.last_error["code"] == "auth_failed"
    assert "AUTHENTICATIONFAILED" in view.last_error["server_text"]
    assert [a["code"] for a in view.alerts] == ["needs_app_password"]

    with pytest.raises(ImportBlocked) as blocked:  # no second login attempt, ever
        box.runner().run("imp")
    assert any("set-password acct" in line for line in blocked.value.advice)
    with box.accounts.db.session() as session:  # due by schedule, but the scheduler skips it
        session.execute(update(Import).values(next_run_at=now()))
    tick = run_due(box.runner())
    assert tick.ran == []
    assert [(s.name, s.why) for s in tick.skipped.values()] == [("imp", "needs_app_password")]

    box.accounts.set_password("acct", "a-typo")  # a wrong new password is tried once, only
    assert box.runner().run("imp").state == "needs_app_password"
    with pytest.raises(ImportBlocked):
        box.runner().run("imp")

    box.accounts.set_password("acct", "the-new-one")
    box.deliver(message(2))
    healed = box.runner().run("imp")
    assert healed.state == "ok" and healed.new == 1
    assert imports.get("imp").alerts == []


def test_transient_failures_back_off_and_alert_only_after_they_last(mailbox: Any) -> None:
    box: Mailbox = mailbox(port=closed_port())
    imports = ImportService(box.accounts.db)
    imports.create("imp", "acct", None, 1200)

    first = box.runner().run("imp")
    assert first.state == "connect_error"
    view = imports.get("imp")
    assert view.last_error is not None and view.last_error["code"] == "connection_refused"
    assert view.alerts == []  # one failure is not worth waking anyone
    assert view.next_run_at is not None and view.failing_since is not None
    assert view.next_run_at - view.failing_since >= timedelta(minutes=20)

    again = box.runner(alert_after=timedelta(0)).run("imp")
    assert again.state == "connect_error"
    assert [a["code"] for a in imports.get("imp").alerts] == ["connect_error"]


def test_the_scheduler_runs_what_is_due_once(mailbox: Any) -> None:
    box: Mailbox = mailbox()
    box.deliver(message(1))
    imports = ImportService(box.accounts.db)
    imports.create("scheduled", "acct", None, 600)
    imports.create("manual", "acct", None, None)

    tick = run_due(box.runner())

    assert [r.name for r in tick.ran] == ["scheduled"]
    view = imports.get("scheduled")
    assert view.next_run_at is not None and view.last_run_at is not None
    assert view.next_run_at - view.last_run_at >= timedelta(seconds=590)
    assert run_due(box.runner()).ran == []


def test_a_missing_vault_key_is_reported_not_left_running(mailbox: Any) -> None:
    from cryptography.fernet import Fernet

    from mailmatch.accounts.service import AccountService
    from mailmatch.config import load_settings
    from mailmatch.sync.runner import ImportRunner

    box: Mailbox = mailbox()
    ImportService(box.accounts.db).create("imp", "acct", None, None)
    wrong_key = Fernet.generate_key().decode()
    settings = load_settings({"MAILMATCH_HOME": str(box.home), "MAILMATCH_SECRET_KEYS": wrong_key})

    result = ImportRunner(AccountService.open(settings)).run("imp")

    assert result.state == "connect_error"
    assert result.errors[0]["code"] == "vault_error"
    assert ImportService(box.accounts.db).get("imp").state == "connect_error"


def test_an_account_the_provider_blocked_is_its_own_state_and_alerts_at_once(
    mailbox: Any, dovecot: Any
) -> None:
    """RFC 5530 [CONTACTADMIN]: the password may be right, so this is not "password refused";
    only the provider can lift it, so the user hears of it at once, not after four hours."""
    box: Mailbox = mailbox()
    box.deliver(message(1))
    imports = ImportService(box.accounts.db)
    imports.create("imp", "acct", None, 1200)
    assert box.runner().run("imp").state == "ok"

    dovecot.add_user(
        box.address, box.password, imap_disabled_reason="Account locked. Contact support."
    )
    blocked = box.runner().run("imp")

    assert blocked.state == "account_blocked"
    view = imports.get("imp")
    assert view.last_error is not None and view.last_error["code"] == "account_blocked"
    assert "CONTACTADMIN" in view.last_error["server_text"]
    assert [a["code"] for a in view.alerts] == ["account_blocked"]

    dovecot.add_user(box.address, box.password)  # the provider lifted the block
    box.deliver(message(2))
    healed = box.runner().run("imp")
    assert healed.state == "ok" and healed.new == 1
    assert imports.get("imp").alerts == []
