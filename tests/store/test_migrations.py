"""The schema comes from Alembic migrations, and they match the models."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from mailmatch.config import load_settings
from mailmatch.store.db import HEAD_REVISION, alembic_config, open_database
from mailmatch.store.models import Base, include_object


def test_a_new_home_gets_the_full_schema_and_reopening_is_a_no_op(tmp_path: Path) -> None:
    settings = load_settings({"MAILMATCH_HOME": str(tmp_path)})
    db = open_database(settings)
    assert "accounts" in inspect(db.engine).get_table_names()
    again = open_database(settings)
    with again.engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() is not None


def test_migrations_match_the_models(tmp_path: Path) -> None:
    db = open_database(load_settings({"MAILMATCH_HOME": str(tmp_path)}))
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": include_object})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    db = open_database(load_settings({"MAILMATCH_HOME": str(tmp_path)}))
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_the_head_revision_constant_is_alembics_head(tmp_path: Path) -> None:
    from alembic.script import ScriptDirectory

    db = open_database(load_settings({"MAILMATCH_HOME": str(tmp_path)}))
    script = ScriptDirectory.from_config(alembic_config(db.engine))
    assert script.get_current_head() == HEAD_REVISION
