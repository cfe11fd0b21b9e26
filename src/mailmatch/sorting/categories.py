"""A workspace's categories and sorting settings.

Every workspace starts with the default set the first time sorting looks at it; a user can
rename, add and remove freely (messages, rules and examples refer to the id). Removing a
category leaves its messages ``uncategorized`` and drops its rules and examples.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from mailmatch.errors import AlreadyExists, InvalidInput, NotFound
from mailmatch.store.bulk import insert_ignore
from mailmatch.store.db import Database
from mailmatch.store.sorting import MessageCategory, SortCategory, SortSettings
from mailmatch.store.tables import SORT_CATEGORIES, SORT_SETTINGS
from mailmatch.timeutil import now

DEFAULTS: tuple[tuple[str, str], ...] = (
    ("support", "customer questions and problems"),
    ("sales", "leads, quotes, orders and offers"),
    ("billing", "invoices, receipts, payments"),
    ("newsletter", "mailing lists and newsletters"),
    ("notification", "automatic mail from programs and services"),
    ("personal", "people writing to you personally"),
    ("spam", "unwanted mail"),
)
#: Below this probability a model's guess goes to the review queue instead.
DEFAULT_THRESHOLD = 0.7
_NAME = re.compile(r"[\w][\w .&+/-]{0,99}", re.UNICODE)


@dataclass(frozen=True)
class Category:
    id: int
    name: str
    description: str
    messages: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "messages": self.messages,
        }


def ensure_defaults(conn: Connection, workspace_id: int) -> float:
    """Give the workspace its default categories the first time; returns its threshold."""
    threshold = conn.execute(
        select(SortSettings.threshold).where(SortSettings.workspace_id == workspace_id)
    ).scalar()
    if threshold is not None:
        return float(threshold)
    inserted = conn.execute(
        insert_ignore(conn, SORT_SETTINGS).values(
            workspace_id=workspace_id, threshold=DEFAULT_THRESHOLD, created_at=now()
        )
    )
    if inserted.rowcount:
        stamp = now()
        for name, description in DEFAULTS:
            conn.execute(
                insert_ignore(conn, SORT_CATEGORIES).values(
                    workspace_id=workspace_id,
                    name=name,
                    description=description,
                    created_at=stamp,
                )
            )
    return DEFAULT_THRESHOLD


def clean_name(name: str) -> str:
    name = " ".join(name.split()).lower()
    if not _NAME.fullmatch(name):
        raise InvalidInput(
            f"{name!r} is not a category name: 1 to 100 letters, digits, spaces or . & + / - _"
        )
    if name == "uncategorized":
        raise InvalidInput("'uncategorized' is what a message without a category is")
    return name


class Categories:
    """The categories of one workspace."""

    def __init__(self, db: Database, workspace_id: int) -> None:
        self.db = db
        self.workspace_id = workspace_id

    def _ensure(self) -> None:
        with self.db.engine.begin() as conn:
            ensure_defaults(conn, self.workspace_id)

    def list(self) -> list[Category]:
        self._ensure()
        with self.db.read() as conn:
            counts = dict(
                conn.execute(
                    select(MessageCategory.category_id, func.count())
                    .where(
                        MessageCategory.workspace_id == self.workspace_id,
                        MessageCategory.state == "sorted",
                    )
                    .group_by(MessageCategory.category_id)
                ).all()
            )
            rows = conn.execute(
                select(SortCategory.id, SortCategory.name, SortCategory.description)
                .where(SortCategory.workspace_id == self.workspace_id)
                .order_by(SortCategory.id)
            ).all()
        return [Category(i, n, d, int(counts.get(i, 0))) for i, n, d in rows]

    def by_name(self) -> dict[str, int]:
        return {c.name: c.id for c in self.list()}

    def get(self, name: str) -> Category:
        wanted = " ".join(name.split()).lower()
        for category in self.list():
            if category.name == wanted:
                return category
        names = ", ".join(c.name for c in self.list()) or "none"
        raise NotFound(
            f"no category {name!r} (the categories: {names})",
            advice=["add it: mailmatch sort categories add NAME"],
        )

    def add(self, name: str, description: str = "") -> Category:
        name = clean_name(name)
        self._ensure()
        try:
            with self.db.engine.begin() as conn:
                result = conn.execute(
                    SORT_CATEGORIES.insert().values(
                        workspace_id=self.workspace_id,
                        name=name,
                        description=description.strip(),
                        created_at=now(),
                    )
                )
                key = result.inserted_primary_key
                assert key is not None
                new_id = int(key[0])
        except IntegrityError:
            raise AlreadyExists(f"a category named {name!r} exists") from None
        return Category(new_id, name, description.strip())

    def rename(self, old: str, new: str) -> Category:
        category = self.get(old)
        new = clean_name(new)
        try:
            with self.db.engine.begin() as conn:
                conn.execute(
                    update(SortCategory).where(SortCategory.id == category.id).values(name=new)
                )
        except IntegrityError:
            raise AlreadyExists(f"a category named {new!r} exists") from None
        return Category(category.id, new, category.description, category.messages)

    def remove(self, name: str) -> Category:
        """Remove it; its messages become uncategorized (a person's correction included, since
        the category it named is gone), its rules and examples go with it."""
        category = self.get(name)
        with self.db.engine.begin() as conn:
            conn.execute(
                update(MessageCategory)
                .where(MessageCategory.category_id == category.id)
                .values(
                    category_id=None,
                    state="uncategorized",
                    source=None,
                    reason=f"its category {category.name} was removed",
                    confidence=None,
                    rule_id=None,
                )
            )
            conn.execute(
                update(MessageCategory)
                .where(
                    MessageCategory.workspace_id == self.workspace_id,
                    MessageCategory.guess_id == category.id,
                )
                .values(guess_id=None)
            )
            conn.execute(delete(SortCategory).where(SortCategory.id == category.id))
        return category

    def threshold(self) -> float:
        with self.db.engine.begin() as conn:
            return ensure_defaults(conn, self.workspace_id)

    def set_threshold(self, value: float) -> None:
        if not 0.0 < value < 1.0:
            raise InvalidInput("the review threshold is a probability between 0 and 1")
        self._ensure()
        with self.db.engine.begin() as conn:
            conn.execute(
                update(SortSettings)
                .where(SortSettings.workspace_id == self.workspace_id)
                .values(threshold=value)
            )
