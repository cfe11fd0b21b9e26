"""SQLAlchemy models. Schema changes go through an Alembic migration in ``migrations/``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class Account(Base):
    """A connected mailbox: where its servers are and its encrypted password.

    The password is stored only as a Fernet token (``secret``) with the id of the key that
    made it (``key_id``), so that key rotation can tell which rows still need re-encrypting.
    """

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
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
