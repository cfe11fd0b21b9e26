"""Reads never wait for the write lock: a page listing imports or accounts while an import
holds SQLite's write lock (it does, for each batch it stores) answers at once."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import text

from mailmatch.accounts.service import AccountService
from mailmatch.config import load_settings
from mailmatch.imports.service import ImportService
from mailmatch.store.db import open_database
from mailmatch.users.service import UserService


def test_listing_while_a_writer_holds_the_lock(tmp_path: Path) -> None:
    settings = load_settings({"MAILMATCH_HOME": str(tmp_path / "home")})
    db = open_database(settings)
    accounts = AccountService.open(settings)
    with db.engine.connect() as writer:
        writer.begin()  # BEGIN IMMEDIATE, as every store batch does
        writer.execute(text("UPDATE imports SET state = state"))
        started = time.monotonic()
        assert ImportService(db).list() == []
        assert accounts.list() == []
        took = time.monotonic() - started
        writer.rollback()
    assert took < 5  # a write-locking read would wait for the 30 s busy timeout


def test_users_and_their_tokens_are_listed_while_a_writer_holds_the_lock(tmp_path: Path) -> None:
    db = open_database(load_settings({"MAILMATCH_HOME": str(tmp_path / "home")}))
    users = UserService(db)
    users.create("ann@example.org", "correct horse battery staple")
    users.create_token("ann@example.org", "laptop")
    with db.engine.connect() as writer:
        writer.begin()  # BEGIN IMMEDIATE, as every store batch does
        writer.execute(text("UPDATE imports SET state = state"))
        started = time.monotonic()
        assert [u.email for u in users.list()] == ["ann@example.org"]
        assert users.get("ann@example.org").workspace == "default"
        assert [t["name"] for t in users.tokens("ann@example.org")] == ["laptop"]
        took = time.monotonic() - started
        writer.rollback()
    assert took < 5  # a write-locking read would wait for the 30 s busy timeout


def test_a_read_session_writes_nothing(tmp_path: Path) -> None:
    db = open_database(load_settings({"MAILMATCH_HOME": str(tmp_path / "home")}))
    with db.read_session() as session:
        session.execute(text("INSERT INTO workspaces (name, created_at) VALUES ('x', '2026')"))
    with db.read() as conn:
        names = conn.execute(text("SELECT name FROM workspaces")).scalars().all()
    assert names == ["default"]
