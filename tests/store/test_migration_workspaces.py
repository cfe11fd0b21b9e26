"""Revision 0004 upgrades a populated 0003 store, on SQLite and PostgreSQL: every row lands in
the default workspace, nothing is lost (SQLite rebuilds the tables; with foreign keys on, that
would cascade-delete imports and locations), search still works, and a new workspace can hold
the same message again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import text

from mailmatch.config import load_settings
from mailmatch.contacts.service import RecordService
from mailmatch.imports.messages import MessageService
from mailmatch.imports.service import ImportService
from mailmatch.ingest.parse import parse_message
from mailmatch.store.db import Database, alembic_config, make_engine
from mailmatch.store.messages import Incoming, MessageStore
from mailmatch.store.workspaces import create_workspace, list_workspaces

RAW = b"From: carol@acme.test\r\nSubject: budget\r\nMessage-ID: <old@x>\r\n\r\nquarterly budget\r\n"
SHA = parse_message(RAW).sha256
T = "'2020-01-01 00:00:00+00'"

ROWS_0003 = [
    "INSERT INTO accounts (id, name, address, username, smtp_username, discovery_source, "
    "imap_host, imap_port, imap_security, smtp_host, smtp_port, smtp_security, secret, key_id, "
    f"password_set_at, created_at) VALUES (1, 'work', 'me@corp.test', 'me', 'me', 'manual', "
    f"'imap.corp.test', 993, 'ssl', 'smtp.corp.test', 465, 'ssl', 'token', 'k1', {T}, {T})",
    "INSERT INTO imports (id, name, account_id, state, failures, created_at) "
    f"VALUES (1, 'daily', 1, 'ok', 0, {T})",
    f"INSERT INTO blobs (sha256, size, codec, data) VALUES ('{SHA}', {len(RAW)}, 'none', :raw)",
    "INSERT INTO threads (id, subject_key, participants_key, message_count) "
    "VALUES (1, 'budget', 'p', 1)",
    'INSERT INTO messages (id, sha256, size, message_id, subject, from_email, "references", '
    "thread_id, body_text, parse_level, defects, attachment_count, created_at) VALUES "
    f"(1, '{SHA}', {len(RAW)}, 'old@x', 'budget', 'carol@acme.test', '[]', 1, "
    f"'quarterly budget', 'full', '[]', 0, {T})",
    "INSERT INTO message_addresses (message_pk, role, email, name, domain) "
    "VALUES (1, 'from', 'carol@acme.test', '', 'acme.test')",
    "INSERT INTO locations (account_id, folder, uidvalidity, uid, message_pk) "
    "VALUES (1, 'INBOX', 7, 1, 1)",
    "INSERT INTO folder_states (account_id, folder, uidvalidity, last_uid, updated_at) "
    f"VALUES (1, 'INBOX', 7, 1, {T})",
    "INSERT INTO thread_links (message_id, thread_id) VALUES ('old@x', 1)",
    f"INSERT INTO companies (id, name, created_at) VALUES (1, 'Acme', {T})",
    "INSERT INTO company_domains (domain, company_id) VALUES ('acme.test', 1)",
    "INSERT INTO contacts (id, name, company_id, tags, custom, created_at) "
    f"VALUES (1, 'Carol', 1, '[]', '{{}}', {T})",
    "INSERT INTO contact_emails (email, contact_id) VALUES ('carol@acme.test', 1)",
    f"INSERT INTO ignore_rules (kind, value, created_at) VALUES ('domain', 'spam.test', {T})",
    "INSERT INTO message_links (message_pk, record_type, record_id, reason, created_at) "
    f"VALUES (1, 'contact', 1, 'From address carol@acme.test belongs to contact Carol', {T})",
    f"INSERT INTO match_states (message_pk, status, matched_at) VALUES (1, 'matched', {T})",
]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.db'}"
    postgres: Any = request.getfixturevalue("postgres")
    return str(postgres.new_database())


def test_a_populated_0003_store_upgrades_into_the_default_workspace(
    database_url: str, tmp_path: Path
) -> None:
    engine = make_engine(database_url)
    config = alembic_config(engine)
    command.upgrade(config, "0003")
    with engine.begin() as conn:
        for statement in ROWS_0003:
            conn.execute(text(statement), {"raw": RAW} if ":raw" in statement else {})
        if engine.dialect.name == "sqlite":
            conn.execute(
                text("INSERT INTO messages_fts(rowid, body) VALUES (1, 'quarterly budget')")
            )
        else:
            conn.execute(
                text("UPDATE messages SET search_vector = to_tsvector('simple', body_text)")
            )
            for table in ("accounts", "imports", "threads", "messages", "companies", "contacts"):
                # The rows above chose their ids; the sequences must know, as after real use.
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), 1)"))

    command.upgrade(config, "head")

    db = Database(engine)
    with engine.connect() as conn:
        kept = {
            table: conn.execute(text(f"SELECT count(*) FROM {table}")).scalar()
            for table in ("imports", "locations", "folder_states", "message_links", "match_states")
        }
        workspaces = conn.execute(
            text(
                " UNION ".join(
                    f"SELECT workspace_id FROM {table}"
                    for table in ("accounts", "messages", "thread_links", "contacts", "webhooks")
                )
            )
        ).scalars()
        assert set(workspaces) == {1}
    assert kept == dict.fromkeys(kept, 1)
    assert [w.name for w in list_workspaces(db)] == ["default"]
    assert ImportService(db).get("daily").folder_states[0]["last_uid"] == 1
    messages = MessageService(MessageStore(db))
    assert [m["id"] for m in messages.search("quarterly")] == [1]
    assert messages.show(1)["locations"] == [{"account": "work", "folder": "INBOX", "uid": 1}]
    assert RecordService(db).show_contact("carol@acme.test")["messages"][0]["id"] == 1

    # A new workspace gets a fresh id (the PostgreSQL sequence moved past the inserted 1)
    # and holds the same bytes as its own message, with its own contact of the same address.
    team = create_workspace(db, "team")
    assert team == 2
    store = MessageStore(db, workspace_id=team)
    added = store.add_batch([Incoming(RAW, parse_message(RAW))])
    assert added.new == 1 and added.message_pks != [1]
    assert store.search("quarterly") == added.message_pks
    change = RecordService(db, workspace_id=team).add_contact("carol@acme.test", "Carol T")
    assert change.rematched == 1
    engine.dispose()


def test_a_fresh_home_starts_with_the_default_workspace(tmp_path: Path) -> None:
    from mailmatch.store.db import open_database

    db = open_database(load_settings({"MAILMATCH_HOME": str(tmp_path)}))
    assert [(w.id, w.name) for w in list_workspaces(db)] == [(1, "default")]
