"""SQLAlchemy models for sorting: categories, rules, each message's category, the examples
the classifier learns from, the classifier itself, and what filing moved on the server.

The model lives in the database with the workspace's data (``sort_models``), not in a file of
one machine's data home, so that every process and every worker sorts with the same model.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from mailmatch.store.models import Base, utcnow, workspace_column


class SortSettings(Base):
    """A workspace's sorting settings; the row's presence also says the default categories
    were given to it once (so removing them all does not bring them back)."""

    __tablename__ = "sort_settings"

    workspace_id: Mapped[int] = workspace_column(primary_key=True)
    threshold: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SortCategory(Base):
    """A category of one workspace (``support``, ``billing``, ...): renamed freely, since
    everything refers to it by id."""

    __tablename__ = "sort_categories"
    __table_args__ = (UniqueConstraint("workspace_id", "name", name="uq_sort_categories_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = workspace_column()
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SortRule(Base):
    """One rule: ``kind`` says what it looks at (``from``, ``domain``, ``to``, ``subject``,
    ``body``, ``header``, ``attachment``, ``folder``, ``matched``), ``value`` what it looks for.
    Rules are tried by ``position``; the first that applies decides."""

    __tablename__ = "sort_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = workspace_column(index=True)
    category_id: Mapped[int] = mapped_column(ForeignKey("sort_categories.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class MessageCategory(Base):
    """Where sorting put one message and why.

    ``state`` is ``sorted`` (``category_id`` set), ``review`` (the model's guess was below the
    threshold: ``guess_id`` holds it) or ``uncategorized``. ``source`` is ``rule``, ``signal``,
    ``model`` or ``correction``; a correction is never overwritten by sorting again.
    """

    __tablename__ = "message_categories"
    __table_args__ = (
        Index("ix_message_categories_workspace_category", "workspace_id", "category_id"),
        Index("ix_message_categories_workspace_state", "workspace_id", "state"),
    )

    message_pk: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    workspace_id: Mapped[int] = workspace_column()
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("sort_categories.id", ondelete="SET NULL")
    )
    state: Mapped[str] = mapped_column(String(16))
    source: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    confidence: Mapped[float | None] = mapped_column(Float)
    rule_id: Mapped[int | None] = mapped_column(Integer)
    guess_id: Mapped[int | None] = mapped_column(Integer)
    sorted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SortExample(Base):
    """A label the classifier learned from: a person's correction, or mail the provider put in
    its Junk folder. ``model_guess`` is what the model said just before it learned this one,
    which is what the accuracy figures are measured on."""

    __tablename__ = "sort_examples"
    __table_args__ = (UniqueConstraint("workspace_id", "message_pk", name="uq_sort_examples"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = workspace_column()
    message_pk: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    category_id: Mapped[int] = mapped_column(ForeignKey("sort_categories.id", ondelete="CASCADE"))
    origin: Mapped[str] = mapped_column(String(16))  # correction | junk | folder
    model_guess: Mapped[int | None] = mapped_column(Integer)
    previous_source: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SortModel(Base):
    """A workspace's classifier: its weights as a NumPy ``.npz`` archive (read with
    ``allow_pickle=False``: loading it runs no code) and the category ids of its rows."""

    __tablename__ = "sort_models"

    workspace_id: Mapped[int] = workspace_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    classes: Mapped[list[int]] = mapped_column(JSON)
    examples: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SortFiling(Base):
    """Filing turned on for one import and one category: new mail sorted into the category is
    moved to ``folder`` on that import's server."""

    __tablename__ = "sort_filings"
    __table_args__ = (UniqueConstraint("import_id", "category_id", name="uq_sort_filings"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = workspace_column()
    import_id: Mapped[int] = mapped_column(ForeignKey("imports.id", ondelete="CASCADE"))
    category_id: Mapped[int] = mapped_column(ForeignKey("sort_categories.id", ondelete="CASCADE"))
    folder: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SortMove(Base):
    """One message moved on the server by filing, and how to move it back."""

    __tablename__ = "sort_moves"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = workspace_column(index=True)
    message_pk: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    import_id: Mapped[int | None] = mapped_column(Integer)
    from_folder: Mapped[str] = mapped_column(String(500))
    from_uidvalidity: Mapped[int] = mapped_column(BigInteger)
    from_uid: Mapped[int] = mapped_column(BigInteger)
    to_folder: Mapped[str] = mapped_column(String(500))
    to_uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    to_uid: Mapped[int | None] = mapped_column(BigInteger)
    method: Mapped[str] = mapped_column(String(16))  # move | copy-expunge
    state: Mapped[str] = mapped_column(String(16))  # moved | undone | failed
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    undone_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    details: Mapped[dict[str, object] | None] = mapped_column(JSON)
