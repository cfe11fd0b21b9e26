"""``MAILMATCH_WORKSPACE`` picks the workspace every command works in, as a user runs them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.cli import run_mailmatch


def mailmatch(home: Path, *args: str, workspace: str | None = None) -> Any:
    env = {"MAILMATCH_WORKSPACE": workspace} if workspace else None
    result = run_mailmatch(home, *args, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout) if "--json" in args else result.stdout


def failing(home: Path, *args: str, workspace: str) -> subprocess.CompletedProcess[str]:
    result = run_mailmatch(home, *args, env={"MAILMATCH_WORKSPACE": workspace})
    assert result.returncode == 1, result.stdout + result.stderr
    return result


def test_commands_work_in_the_workspace_the_environment_names(tmp_path: Path) -> None:
    home = tmp_path / "home"
    mbox = tmp_path / "mail.mbox"
    mbox.write_bytes(
        b"From a@b Mon Sep  2 10:00:00 2002\n"
        b"From: Bob <bob@acme.test>\nTo: me@corp.test\nSubject: pricing\n"
        b"Message-ID: <p1@x>\n\nour pricing sheet\n\n"
    )
    assert mailmatch(home, "workspaces", "create", "team", "--json") == {"id": 2, "name": "team"}
    listed = mailmatch(home, "workspaces", "list", "--json", workspace="team")
    assert [(w["name"], w["current"]) for w in listed] == [("default", False), ("team", True)]

    assert mailmatch(home, "import-file", str(mbox), "--json")["new"] == 1
    assert mailmatch(home, "import-file", str(mbox), "--json", workspace="team")["new"] == 1
    added = mailmatch(home, "contacts", "add", "bob@acme.test", "--name", "Bob", "--json",
                      workspace="team")  # fmt: skip
    assert added["rematched"] == 1

    assert mailmatch(home, "contacts", "list", "--json") == []
    assert [c["name"] for c in mailmatch(home, "contacts", "list", "--json", workspace="team")] == [
        "Bob"
    ]
    (hit_default,) = mailmatch(home, "messages", "search", "pricing", "--json")
    (hit_team,) = mailmatch(home, "messages", "search", "pricing", "--json", workspace="team")
    assert hit_default["id"] != hit_team["id"]
    shown = failing(home, "messages", "show", str(hit_default["id"]), workspace="team")
    assert f"no message {hit_default['id']}" in shown.stderr


def test_an_unknown_workspace_is_a_clear_error(tmp_path: Path) -> None:
    result = failing(tmp_path / "home", "contacts", "list", workspace="nope")
    assert "no workspace named 'nope'" in result.stderr
    assert "mailmatch workspaces create nope" in result.stderr
