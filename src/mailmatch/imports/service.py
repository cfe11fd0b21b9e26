"""Create, list, show and remove named imports; the runner does the work."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import EllipsisType
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailmatch.errors import AlreadyExists, NotFound
from mailmatch.store.db import Database
from mailmatch.store.models import DEFAULT_WORKSPACE_ID, Account, Alert, FolderState, Import
from mailmatch.timeutil import aware, format_every, now

# What an import without a folder list reads. "Sent" stands for the account's Sent folder
# whatever the server calls it (imap/folders.py finds it when the import runs).
DEFAULT_FOLDERS = ("INBOX", "Sent")


@dataclass
class ImportView:
    name: str
    account: str
    folders: list[str] | None
    every_seconds: int | None
    state: str
    next_run_at: datetime | None
    last_run_at: datetime | None
    last_ok_at: datetime | None
    failing_since: datetime | None
    last_stats: dict[str, Any] | None
    last_error: dict[str, Any] | None
    alerts: list[dict[str, Any]]
    folder_states: list[dict[str, Any]]

    @property
    def never_run(self) -> bool:
        """Created and never started: its state reads ``ok`` only because nothing failed yet."""
        return self.last_run_at is None and self.state == "ok"

    @property
    def folders_used(self) -> list[str]:
        """The folders the import reads, by the names it uses.

        Named folders are those names. The default (``folders`` is None) is the INBOX and the
        Sent folder; once a run has resolved them on the server, by the server's names (say
        ``Sent Messages``). A default run reads at most those two, INBOX first: a last run
        that read other folders (before the list was changed back to the default) does not
        say what the default is.
        """
        if self.folders:
            return list(self.folders)
        folders = (self.last_stats or {}).get("folders") or []
        ran = [str(f["name"]) for f in folders if isinstance(f, dict) and f.get("name")]
        if 0 < len(ran) <= len(DEFAULT_FOLDERS) and ran[0].upper() == "INBOX":
            return ran
        return list(DEFAULT_FOLDERS)

    def to_json(self) -> dict[str, Any]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "name": self.name,
            "account": self.account,
            "folders": self.folders,
            "every": format_every(self.every_seconds),
            "state": self.state,
            "next_run_at": iso(self.next_run_at),
            "last_run_at": iso(self.last_run_at),
            "last_ok_at": iso(self.last_ok_at),
            "failing_since": iso(self.failing_since),
            "last_run": self.last_stats,
            "last_error": self.last_error,
            "alerts": self.alerts,
            "folder_states": self.folder_states,
            "never_run": self.never_run,
            "folders_used": self.folders_used,
            "default_folders": not self.folders,
        }


def import_row(session: Session, name: str, workspace_id: int = DEFAULT_WORKSPACE_ID) -> Import:
    """The import called ``name`` in the workspace; one of another workspace is not found."""
    row = session.scalar(
        select(Import).where(Import.workspace_id == workspace_id, Import.name == name)
    )
    if row is None:
        raise NotFound(f"no import named {name!r}", advice=["list them: mailmatch imports list"])
    return row


class ImportService:
    """The imports of one workspace."""

    def __init__(self, db: Database, *, workspace_id: int = DEFAULT_WORKSPACE_ID) -> None:
        self.db = db
        self.workspace_id = workspace_id

    def create(
        self, name: str, account: str, folders: list[str] | None, every_seconds: int | None
    ) -> ImportView:
        with self.db.session() as session:
            acc = session.scalar(
                select(Account).where(
                    Account.workspace_id == self.workspace_id, Account.name == account
                )
            )
            if acc is None:
                raise NotFound(
                    f"no account named {account!r}",
                    advice=["connect it first: mailmatch accounts add ADDRESS"],
                )
            taken = select(Import.id).where(
                Import.workspace_id == self.workspace_id, Import.name == name
            )
            if session.scalar(taken) is not None:
                raise AlreadyExists(f"an import named {name!r} exists")
            row = Import(
                workspace_id=self.workspace_id,
                name=name,
                account_id=acc.id,
                folders=folders or None,
                every_seconds=every_seconds,
                next_run_at=now() if every_seconds else None,
                state="ok",
                failures=0,
            )
            session.add(row)
            session.flush()
            return self._view(session, row)

    def list(self) -> list[ImportView]:
        with self.db.read_session() as session:
            rows = session.scalars(
                select(Import).where(Import.workspace_id == self.workspace_id).order_by(Import.name)
            ).all()
            return [self._view(session, r) for r in rows]

    def get(self, name: str) -> ImportView:
        with self.db.read_session() as session:
            return self._view(session, import_row(session, name, self.workspace_id))

    def update(
        self,
        name: str,
        *,
        folders: Sequence[str] | EllipsisType | None = ...,
        every_seconds: int | EllipsisType | None = ...,
    ) -> ImportView:
        """Change the folders and/or the schedule; an argument left out is kept.

        ``folders=None`` means INBOX and Sent, found on the server; ``every_seconds=None`` means
        the import only runs when started by hand. A new schedule counts from the last run, so
        shortening it can make the import due at once, and lengthening it never skips a run
        that is already late.
        """
        with self.db.session() as session:
            row = import_row(session, name, self.workspace_id)
            if not isinstance(folders, EllipsisType):
                row.folders = [*folders] if folders else None
            if not isinstance(every_seconds, EllipsisType):
                row.every_seconds = every_seconds
                if every_seconds is None:
                    row.next_run_at = None
                else:
                    last = aware(row.last_run_at)
                    due = last + timedelta(seconds=every_seconds) if last else now()
                    row.next_run_at = max(due, now())
            session.flush()
            return self._view(session, row)

    def resume(self, name: str) -> ImportView:
        """Take a paused import (the server refused its password) back to ``ok`` and make it
        due now: called once a new password has passed a login test, so the next run does
        not wait for the old backoff."""
        with self.db.session() as session:
            row = import_row(session, name, self.workspace_id)
            if row.state in ("needs_app_password", "auth_failed"):
                row.state = "ok"
                row.failures = 0
                if row.every_seconds:
                    row.next_run_at = now()
            session.flush()
            return self._view(session, row)

    def remove(self, name: str) -> None:
        with self.db.session() as session:
            row = import_row(session, name, self.workspace_id)
            for alert in session.scalars(select(Alert).where(Alert.import_id == row.id)):
                session.delete(alert)
            session.delete(row)

    def _view(self, session: Session, row: Import) -> ImportView:
        account = session.get(Account, row.account_id)
        alerts = session.scalars(
            select(Alert).where(Alert.import_id == row.id, Alert.resolved_at.is_(None))
        ).all()
        states = session.scalars(
            select(FolderState).where(FolderState.account_id == row.account_id)
        ).all()
        return ImportView(
            name=row.name,
            account=account.name if account else "?",
            folders=row.folders,
            every_seconds=row.every_seconds,
            state=row.state,
            next_run_at=aware(row.next_run_at),
            last_run_at=aware(row.last_run_at),
            last_ok_at=aware(row.last_ok_at),
            failing_since=aware(row.failing_since),
            last_stats=row.last_stats,
            last_error=row.last_error,
            alerts=[
                {
                    "code": a.code,
                    "message": a.message,
                    "created_at": (aware(a.created_at) or now()).isoformat(),
                }
                for a in alerts
            ],
            folder_states=[
                {
                    "folder": s.folder,
                    "uidvalidity": s.uidvalidity,
                    "uidnext": s.uidnext,
                    "highestmodseq": s.highestmodseq,
                    "last_uid": s.last_uid,
                    "exists": s.exists,
                }
                for s in states
            ],
        )
