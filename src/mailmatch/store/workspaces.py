"""Workspaces (tenants): create them, find one by name, list them.

Everything else takes a workspace *id*; names are for people (``MAILMATCH_WORKSPACE``, the web
layer's user records), so the one place a name becomes an id is here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from mailmatch.errors import AlreadyExists, InvalidInput, NotFound
from mailmatch.store.db import Database
from mailmatch.store.models import Workspace
from mailmatch.timeutil import aware


@dataclass(frozen=True)
class WorkspaceView:
    id: int
    name: str
    created_at: datetime | None

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "created_at": self.created_at.isoformat() if self.created_at else None,
        }


def create_workspace(db: Database, name: str) -> int:
    """A new, empty workspace; returns its id."""
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInput("a workspace name is 1 to 200 characters")
    try:
        with db.session() as session:
            if session.scalar(select(Workspace.id).where(Workspace.name == name)) is not None:
                raise AlreadyExists(f"a workspace named {name!r} exists")
            row = Workspace(name=name)
            session.add(row)
            session.flush()
            return row.id
    except IntegrityError:  # created by someone else between the check and the insert
        raise AlreadyExists(f"a workspace named {name!r} exists") from None


def workspace_id(db: Database, name: str) -> int:
    """The id of the workspace called ``name``."""
    with db.read() as conn:
        found = conn.execute(select(Workspace.id).where(Workspace.name == name)).scalar()
    if found is None:
        raise NotFound(
            f"no workspace named {name!r}",
            advice=[
                "list them: mailmatch workspaces list",
                f"create it: mailmatch workspaces create {name}",
                "or set MAILMATCH_WORKSPACE to an existing one (default: default)",
            ],
        )
    return int(found)


def list_workspaces(db: Database) -> list[WorkspaceView]:
    with db.read() as conn:
        rows = conn.execute(
            select(Workspace.id, Workspace.name, Workspace.created_at).order_by(Workspace.id)
        ).all()
    return [WorkspaceView(r.id, r.name, aware(r.created_at)) for r in rows]
