"""SQLAlchemy models. Schema changes go through an Alembic migration in ``migrations/``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: The workspace that every row belonged to before workspaces existed, and the one the CLI
#: and the services use unless told otherwise.
DEFAULT_WORKSPACE_ID = 1


def utcnow() -> datetime:
    return datetime.now(UTC)


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Alembic filter: the FTS5 table and its shadow tables are made by hand in migrations,
    and autogenerate would otherwise propose to drop them."""
    return not (type_ == "table" and name is not None and name.startswith("messages_fts"))


class Base(DeclarativeBase):
    pass


def workspace_column(*, index: bool = False, primary_key: bool = False) -> Mapped[int]:
    """The ``workspace_id`` of a scoped table.

    Every service filters by it; the server default only fills in rows that existed before
    workspaces (and callers that predate them), which all belong to the default workspace.
    """
    return mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"),
        server_default=text(str(DEFAULT_WORKSPACE_ID)),
        index=index,
        primary_key=primary_key,
    )


class Workspace(Base):
    """A tenant: every account, import, message and record belongs to exactly one.

    Blobs are the exception: they are content addressed and shared, so the same bytes imported
    in two workspaces are stored once but are two message rows.
    """

    __tablename__ = "workspaces"
    __table_args__ = (UniqueConstraint("name", name="uq_workspaces_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Account(Base):
    """A connected mailbox: where its servers are and its encrypted password.

    The password is stored only as a Fernet token (``secret``) with the id of the key that
    made it (``key_id``), so that key rotation can tell which rows still need re-encrypting.
    """

    __tablename__ = "accounts"
    __table_args__ = (UniqueConstraint("workspace_id", "name", name="uq_accounts_workspace_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = workspace_column()
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(320))
    username: Mapped[str] = mapped_column(String(320))
    smtp_username: Mapped[str] = mapped_column(String(320))
    provider_id: Mapped[str | None] = mapped_column(String(64))
    discovery_source: Mapped[str] = mapped_column(String(32))
    imap_host: Mapped[str] = mapped_column(String(255))
    imap_port: Mapped[int] = mapped_column(Integer)
    imap_security: Mapped[str] = mapped_column(String(16))
    smtp_host: Mapped[str] = mapped_column(String(255))
    smtp_port: Mapped[int] = mapped_column(Integer)
    smtp_security: Mapped[str] = mapped_column(String(16))
    ca_file: Mapped[str | None] = mapped_column(Text)
    cert_fingerprint: Mapped[str | None] = mapped_column(String(128))
    secret: Mapped[str] = mapped_column(Text)
    key_id: Mapped[str] = mapped_column(String(32))
    password_set_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_test_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_test_ok: Mapped[bool | None] = mapped_column()
    last_test: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Blob(Base):
    """Content-addressed bytes (raw messages, attachments), compressed, stored once."""

    __tablename__ = "blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    codec: Mapped[str] = mapped_column(String(8))  # "zstd", "zlib" or "none"
    data: Mapped[bytes] = mapped_column(LargeBinary)


class Thread(Base):
    __tablename__ = "threads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = workspace_column()
    subject_key: Mapped[str] = mapped_column(String(500), index=True)
    participants_key: Mapped[str] = mapped_column(String(64))
    last_date: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    message_count: Mapped[int] = mapped_column(Integer, default=0)


class Message(Base):
    """One message of a workspace, however many folders hold it. ``sha256`` is of the raw bytes
    (and names the shared blob)."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("workspace_id", "sha256", name="uq_messages_workspace_sha256"),
        Index("ix_messages_workspace_date", "workspace_id", "date"),
        # The dashboard's default axis: messages by the time they were stored and matched.
        Index("ix_messages_workspace_created", "workspace_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = workspace_column()
    sha256: Mapped[str] = mapped_column(String(64), ForeignKey("blobs.sha256"))
    size: Mapped[int] = mapped_column(Integer)
    message_id: Mapped[str | None] = mapped_column(String(998), index=True)
    subject: Mapped[str] = mapped_column(Text)
    date: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    from_email: Mapped[str | None] = mapped_column(String(320), index=True)
    from_name: Mapped[str | None] = mapped_column(String(500))
    in_reply_to: Mapped[str | None] = mapped_column(String(998))
    references: Mapped[list[str]] = mapped_column(JSON)
    thread_id: Mapped[int | None] = mapped_column(ForeignKey("threads.id"), index=True)
    body_text: Mapped[str] = mapped_column(Text)
    parse_level: Mapped[str] = mapped_column(String(8))
    defects: Mapped[list[str]] = mapped_column(JSON)
    attachment_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # The header fields sorting reads (List-Id, Auto-Submitted, X-Spam-Flag, ...), lower-cased
    # name -> first value, without trace fields; None for mail stored before 0011.
    headers: Mapped[dict[str, str] | None] = mapped_column(JSON)


class MessageAddress(Base):
    """Every address of every message by role: the index matching looks addresses up in."""

    __tablename__ = "message_addresses"
    __table_args__ = (Index("ix_message_addresses_email", "email"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_pk: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(10))  # from to cc bcc reply_to sender
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(500))
    # The domain part, indexed: adding a company re-matches by domain without a scan.
    domain: Mapped[str | None] = mapped_column(String(255), index=True)


class ThreadLink(Base):
    """A Message-ID (seen or only referenced) and the thread it belongs to."""

    __tablename__ = "thread_links"

    workspace_id: Mapped[int] = workspace_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(998), primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id"), index=True)


class AttachmentRow(Base):
    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_pk: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    filename: Mapped[str | None] = mapped_column(String(500))
    content_type: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(Integer)
    stored: Mapped[bool] = mapped_column()  # False when over the size cap
    inline: Mapped[bool] = mapped_column()


class Location(Base):
    """Where a message sits on a server: account, folder, UIDVALIDITY and UID."""

    __tablename__ = "locations"
    __table_args__ = (
        UniqueConstraint("account_id", "folder", "uidvalidity", "uid", name="uq_location"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    folder: Mapped[str] = mapped_column(String(500))
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    uid: Mapped[int] = mapped_column(BigInteger)
    message_pk: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )


class FolderState(Base):
    """Sync state of one folder, saved after every batch (the checkpoint)."""

    __tablename__ = "folder_states"

    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )
    folder: Mapped[str] = mapped_column(String(500), primary_key=True)
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    uidnext: Mapped[int | None] = mapped_column(BigInteger)
    highestmodseq: Mapped[int | None] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)  # every UID <= this is stored
    exists: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Import(Base):
    """A named import: an account, its folders and a schedule, with its health."""

    __tablename__ = "imports"
    __table_args__ = (UniqueConstraint("workspace_id", "name", name="uq_imports_workspace_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = workspace_column()
    name: Mapped[str] = mapped_column(String(200))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    folders: Mapped[list[str] | None] = mapped_column(JSON)  # None: INBOX + Sent, found live
    every_seconds: Mapped[int | None] = mapped_column(Integer)
    next_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    state: Mapped[str] = mapped_column(String(32), default="ok")
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_ok_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    failing_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    last_stats: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Alert(Base):
    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("imports.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PipelineBacklog(Base):
    """Stored messages that after-store pipeline steps have not handled yet, one row a batch.

    Written in the batch's own transaction, so a crash between storing and the steps loses no
    work; deleted once every step ran. ``next_step`` is the first step still to run; the steps
    after it in the pipeline's order wait for it (they may read what it wrote). A row held by a
    running writer carries a claim (``claimed_until``, ``owner``) so no one else runs it twice.
    """

    __tablename__ = "pipeline_backlog"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workspace_id: Mapped[int] = workspace_column(index=True)
    message_pks: Mapped[list[int]] = mapped_column(JSON)
    next_step: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(200))
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
