"""A store holding the whole real corpus, built once and copied for each test."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from mailmatch.config import load_settings
from mailmatch.contacts.service import RecordService
from mailmatch.ingest.parse import parse_message
from mailmatch.matching.service import MatchService
from mailmatch.store.db import Database, open_database
from mailmatch.store.messages import Incoming, MessageStore


@pytest.fixture(scope="session")
def corpus_template(tmp_path_factory: pytest.TempPathFactory, corpus_messages: list[bytes]) -> Path:
    home = tmp_path_factory.mktemp("corpus-home")
    store = MessageStore(open_database(load_settings({"MAILMATCH_HOME": str(home)})))
    raws = corpus_messages
    for start in range(0, len(raws), 1000):
        store.add_batch([Incoming(r, parse_message(r)) for r in raws[start : start + 1000]])
    store.db.engine.dispose()
    return home


@pytest.fixture
def corpus_db(corpus_template: Path, tmp_path: Path) -> Database:
    """A private copy of the corpus store (matched with no records yet)."""
    home = tmp_path / "home"
    shutil.copytree(corpus_template, home)
    db = open_database(load_settings({"MAILMATCH_HOME": str(home)}))
    MatchService(db).match_all()
    return db


@pytest.fixture
def records(corpus_db: Database) -> RecordService:
    return RecordService(corpus_db)


Query = Callable[[str], list[tuple[object, ...]]]


@pytest.fixture
def sql(corpus_db: Database) -> Query:
    from sqlalchemy import text

    def run(statement: str) -> list[tuple[object, ...]]:
        with corpus_db.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(statement))]

    return run
