"""Everything mailmatch writes into its data home is its owner's alone.

The database holds every message, the log the servers' answers: with the usual umask (022)
SQLite and ``logging`` would create them 0644, readable by every user of the machine.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from mailmatch.config import load_settings
from mailmatch.store.db import open_database
from tests.cli import run_mailmatch


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The umask of a desktop session: files 0644 and folders 0755 unless asked otherwise."""
    before = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(before)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_database_and_its_wal_and_shm_files_are_private(tmp_path: Path) -> None:
    settings = load_settings({"MAILMATCH_HOME": str(tmp_path / "home")})
    db = open_database(settings)
    database = settings.home / "mailmatch.db"
    with db.engine.connect() as conn:  # an open connection keeps -wal and -shm in place
        conn.execute(text("CREATE TABLE probe (x INTEGER)"))
        conn.commit()
        files = [database, Path(f"{database}-wal"), Path(f"{database}-shm")]
        assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
    db.engine.dispose()


def test_a_command_leaves_only_private_files_in_the_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = run_mailmatch(home, "accounts", "list", "--json")
    assert result.returncode == 0, result.stderr

    modes = {p.relative_to(home).as_posix(): mode(p) for p in home.rglob("*")}
    assert {"mailmatch.db", "mailmatch.log"} <= set(modes)
    assert {name: m for name, m in modes.items() if m & 0o077} == {}
    assert mode(home) == 0o700
    assert "warning" not in result.stderr


def test_files_an_older_version_left_open_are_tightened(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o700)
    for name in ("mailmatch.db", "mailmatch.log"):
        (home / name).touch(mode=0o644)

    result = run_mailmatch(home, "accounts", "list", "--json")

    assert result.returncode == 0, result.stderr
    assert [mode(home / "mailmatch.db"), mode(home / "mailmatch.log")] == [0o600, 0o600]


def test_a_home_others_can_enter_is_named_once_with_the_fix(tmp_path: Path) -> None:
    home = tmp_path / "shared-home"
    home.mkdir(mode=0o755)  # made by hand: mailmatch does not change the user's choice

    result = run_mailmatch(home, "accounts", "list", "--json")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"  # the JSON on stdout stays clean
    assert result.stderr.count("open to other users") == 1
    assert f"chmod 700 {home}" in " ".join(result.stderr.split())
    assert "open to other users" in (home / "mailmatch.log").read_text()
    assert mode(home) == 0o755
