from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mailmatch.config import load_settings
from mailmatch.store.db import Database, open_database


@pytest.fixture(params=["sqlite", "postgresql"])
def either_db(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    """A fresh, migrated store on SQLite, then on PostgreSQL."""
    env = {"MAILMATCH_HOME": str(tmp_path)}
    if request.param == "postgresql":
        postgres: Any = request.getfixturevalue("postgres")
        env["MAILMATCH_DATABASE_URL"] = postgres.new_database()
    return open_database(load_settings(env))
