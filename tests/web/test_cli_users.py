"""``mailmatch users``: the first admin and API tokens from the command line."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from mailmatch.config import load_settings
from mailmatch.web.app import create_app
from tests.cli import run_mailmatch


def test_create_a_user_and_use_a_printed_token(tmp_path: Path) -> None:
    home = tmp_path / "home"
    made = run_mailmatch(
        home, "users", "create", "Admin@Example.org", "--password-stdin", "--json",
        stdin="a long enough password\n",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout) == {
        "id": 1, "email": "admin@example.org", "workspace": "default", "is_admin": True,
    }  # fmt: skip
    token = run_mailmatch(home, "users", "token", "admin@example.org")
    assert token.returncode == 0, token.stderr
    secret = token.stdout.strip()
    assert secret.startswith("mm_")

    settings = load_settings({"MAILMATCH_HOME": str(home)})
    with TestClient(create_app(settings)) as client:
        me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
        assert me.json()["email"] == "admin@example.org"
        form = client.get("/login")
        assert form.status_code == 200


def test_a_short_password_is_refused(tmp_path: Path) -> None:
    result = run_mailmatch(
        tmp_path / "h", "users", "create", "a@example.org", "--password-stdin", stdin="short\n"
    )
    assert result.returncode == 1
    assert "at least 10 characters" in result.stderr


def test_a_token_for_an_unknown_user_is_a_clear_error(tmp_path: Path) -> None:
    result = run_mailmatch(tmp_path / "h", "users", "token", "who@example.org", "--json")
    assert result.returncode == 1
    assert json.loads(result.stdout)["error"]["code"] == "not_found"


def test_later_users_get_their_own_workspace_unless_told(tmp_path: Path) -> None:
    home = tmp_path / "home"
    for email in ("one@example.org", "two@example.org"):
        run_mailmatch(home, "users", "create", email, "--password-stdin", stdin="x" * 12)
    run_mailmatch(
        home, "users", "create", "three@example.org", "--workspace", "default",
        "--password-stdin", stdin="x" * 12,
    )  # fmt: skip
    listed = json.loads(run_mailmatch(home, "users", "list", "--json").stdout)
    assert {u["email"]: u["workspace"] for u in listed} == {
        "one@example.org": "default",
        "two@example.org": "two@example.org",
        "three@example.org": "default",
    }


def test_no_users_yet_says_how_to_create_one(tmp_path: Path) -> None:
    listed = run_mailmatch(tmp_path / "home", "users", "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith("No users yet. Create one with: mailmatch users create")
    assert json.loads(run_mailmatch(tmp_path / "home", "users", "list", "--json").stdout) == []
