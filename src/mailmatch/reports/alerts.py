"""Alerts of one workspace: an import that has been failing for hours or needs a new password.

The runner raises alerts and resolves them itself when the import works again; people can also
resolve one by hand (they have seen it, or removed the cause another way). Alerts have no
workspace column of their own: they belong to the workspace of their import, so every query
here joins ``imports`` and filters on its ``workspace_id``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from mailmatch.errors import NotFound
from mailmatch.store.db import Database
from mailmatch.store.models import Alert, Import
from mailmatch.timeutil import aware, now


@dataclass(frozen=True)
class AlertView:
    id: int
    import_name: str
    code: str
    message: str
    created_at: datetime | None
    resolved_at: datetime | None

    @property
    def open(self) -> bool:
        return self.resolved_at is None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "import": self.import_name,
            "code": self.code,
            "message": self.message,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "resolved_at": self.resolved_at.isoformat() if self.resolved_at else None,
        }


class AlertService:
    def __init__(self, db: Database, *, workspace_id: int) -> None:
        self.db = db
        self.workspace_id = workspace_id

    def _select(self) -> Any:
        return (
            select(
                Alert.id,
                Import.name,
                Alert.code,
                Alert.message,
                Alert.created_at,
                Alert.resolved_at,
            )
            .join(Import, Import.id == Alert.import_id)
            .where(Import.workspace_id == self.workspace_id)
        )

    @staticmethod
    def _view(row: Any) -> AlertView:
        return AlertView(
            id=row[0],
            import_name=row[1],
            code=row[2],
            message=row[3],
            created_at=aware(row[4]),
            resolved_at=aware(row[5]),
        )

    def list(self, *, open_only: bool = True, limit: int = 100) -> list[AlertView]:
        query = self._select()
        if open_only:
            query = query.where(Alert.resolved_at.is_(None))
        query = query.order_by(Alert.created_at.desc(), Alert.id.desc()).limit(limit)
        with self.db.read() as conn:
            return [self._view(r) for r in conn.execute(query)]

    def get(self, alert_id: int) -> AlertView:
        with self.db.read() as conn:
            row = conn.execute(self._select().where(Alert.id == alert_id)).first()
        if row is None:
            raise NotFound(f"no alert {alert_id}")
        return self._view(row)

    def resolve(self, alert_id: int) -> AlertView:
        """Mark the alert resolved (again resolving a resolved one changes nothing)."""
        self.get(alert_id)  # NotFound for another workspace's alert, before any write
        with self.db.session() as session:
            session.execute(
                update(Alert)
                .where(Alert.id == alert_id, Alert.resolved_at.is_(None))
                .values(resolved_at=now())
            )
        return self.get(alert_id)
