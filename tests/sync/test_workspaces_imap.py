"""Importing a real Dovecot mailbox into a workspace other than the default one.

The same mailbox connected in two workspaces (under the same account and import names) is two
independent imports: each keeps its own folder state and message rows, the raw bytes are
stored once, and the scheduler runs each import in its own workspace.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update

from mailmatch.accounts.service import NewAccount, ServerOverride
from mailmatch.imports.messages import MessageService
from mailmatch.imports.service import ImportService
from mailmatch.jobs.scheduler import run_due
from mailmatch.providers.models import Security
from mailmatch.store.messages import MessageStore
from mailmatch.store.models import Blob, Import, Location, Message
from mailmatch.store.workspaces import create_workspace
from mailmatch.sync.runner import ImportRunner, RunnerOptions
from mailmatch.timeutil import now
from tests.sync.conftest import Mailbox, digests, message


def connect_in(box: Mailbox, workspace: int) -> ImportRunner:
    """The box's mailbox connected again, as ``acct``, in ``workspace``; its runner."""
    accounts = box.accounts.in_workspace(workspace)
    accounts.add(
        NewAccount(
            address=box.address,
            name="acct",
            imap=ServerOverride("localhost", box.dovecot.imaps_port, Security.SSL),
            smtp=ServerOverride("localhost", 465, Security.SSL),
            ca_file=str(box.dovecot.ca_file),
        ),
        box.password,
        test=False,
    )
    return ImportRunner(accounts, RunnerOptions(), sleep=lambda _s: None)


def test_an_imap_import_in_a_second_workspace(mailbox: Any) -> None:
    box: Mailbox = mailbox()
    for n in range(12):
        box.deliver(message(n))
    db = box.accounts.db
    team = create_workspace(db, "team")
    team_runner = connect_in(box, team)
    ImportService(db, workspace_id=team).create("imp", "acct", None, None)

    result = team_runner.run("imp").to_json()

    assert result["state"] == "ok" and result["new"] == 12
    team_store = MessageStore(db, workspace_id=team)
    assert MessageStore(db).count() == 0 and team_store.count() == 12
    stored = [raw for _pk, _date, raw in team_store.iter_raw()]
    assert digests(stored) == digests(box.server_messages())
    assert MessageService(team_store).search("message")  # indexed in the team's workspace
    assert box.seen_count() == 0

    # The default workspace's import of the same name and mailbox is its own: it stores
    # its own 12 rows, over the blobs the team's import wrote.
    ImportService(db).create("imp", "acct", None, None)
    assert box.runner().run("imp").to_json()["new"] == 12
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(Blob)).scalar() == 12
        per_workspace = dict(
            conn.execute(
                select(Message.workspace_id, func.count()).group_by(Message.workspace_id)
            ).all()
        )
        located = conn.execute(
            select(func.count())
            .select_from(Location)
            .join(Message, Message.id == Location.message_pk)
            .where(Message.workspace_id == team)
        ).scalar()
    assert per_workspace == {1: 12, team: 12} and located == 12
    assert team_runner.run("imp").to_json()["new"] == 0  # its folder state was kept


def test_the_scheduler_runs_each_workspaces_import_in_that_workspace(mailbox: Any) -> None:
    box: Mailbox = mailbox()
    box.deliver(message(1))
    db = box.accounts.db
    team = create_workspace(db, "team")
    connect_in(box, team)
    ImportService(db).create("hourly", "acct", None, 3600)
    ImportService(db, workspace_id=team).create("hourly", "acct", None, 3600)

    first = run_due(box.runner())  # a runner of the default workspace runs both
    box.deliver(message(2))
    with db.session() as session:
        session.execute(update(Import).values(next_run_at=now()))
    second = run_due(box.runner())

    assert [(r.name, r.state, r.new) for r in first.ran] == [("hourly", "ok", 1)] * 2
    assert [r.new for r in second.ran] == [1, 1]
    assert MessageStore(db).count() == MessageStore(db, workspace_id=team).count() == 2
