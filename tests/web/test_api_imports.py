"""The imports, alerts and dashboard API: sign-in, workspaces, CSRF, runs and their progress.

The helpers at the top (an account, an import, stored and matched messages, an alert) are shared
with the page tests of the imports page and the dashboard.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from mailmatch.accounts.service import NewAccount, ServerOverride
from mailmatch.imports.service import ImportService
from mailmatch.ingest.parse import parse_message
from mailmatch.matching.service import MatchService
from mailmatch.providers.models import Security
from mailmatch.store.messages import Incoming, MessageStore
from mailmatch.store.models import Alert, Import
from mailmatch.sync.lease import Lease
from mailmatch.users.service import UserView
from mailmatch.web.state import AppState
from tests.servers.tcp import free_port
from tests.web.conftest import bearer, sign_in

API = "/api/v1"


# -- shared helpers ---------------------------------------------------------------------------


def state_of(app: FastAPI) -> AppState:
    state: AppState = app.state.mailmatch
    return state


def make_account(
    app: FastAPI,
    user: UserView,
    name: str = "acct",
    *,
    address: str | None = None,
    password: str = "app-password-1",
    port: int | None = None,
    ca_file: str | None = None,
) -> str:
    """An account saved without a login test; by default its IMAP port answers nothing."""
    accounts = state_of(app).accounts(user.workspace_id)
    accounts.add(
        NewAccount(
            address=address or f"{name}@example.com",
            name=name,
            imap=ServerOverride("localhost", port or free_port(), Security.SSL),
            smtp=ServerOverride("localhost", free_port(), Security.SSL),
            ca_file=ca_file,
        ),
        password,
        test=False,
    )
    return name


def make_import(
    app: FastAPI, user: UserView, name: str = "work", account: str = "acct", every: int = 1200
) -> str:
    ImportService(state_of(app).db, workspace_id=user.workspace_id).create(
        name, account, ["INBOX"], every
    )
    return name


def mail(n: int, sender: str, when: datetime) -> bytes:
    stamp = when.strftime("%a, %d %b %Y %H:%M:%S +0000")
    return (
        f"From: {sender}\r\nTo: me@example.com\r\nSubject: note {n}\r\n"
        f"Message-ID: <dash{n}.{sender}>\r\nDate: {stamp}\r\n\r\nbody {n}\r\n"
    ).encode()


def seed_messages(app: FastAPI, user: UserView, raws: list[bytes]) -> list[int]:
    """Store and match messages in the user's workspace, as an import does."""
    db = state_of(app).db
    store = MessageStore(db, workspace_id=user.workspace_id)
    stored = store.add_batch([Incoming(raw, parse_message(raw)) for raw in raws])
    MatchService(db, workspace_id=user.workspace_id).match_messages(stored.message_pks)
    return list(stored.message_pks)


def import_id(app: FastAPI, user: UserView, name: str) -> int:
    with state_of(app).db.session() as session:
        found = session.scalar(
            select(Import.id).where(Import.workspace_id == user.workspace_id, Import.name == name)
        )
    assert found is not None
    return int(found)


def add_alert(app: FastAPI, user: UserView, name: str, code: str = "needs_app_password") -> int:
    with state_of(app).db.session() as session:
        row = Alert(
            import_id=import_id(app, user, name),
            code=code,
            message=f"import {name}: the server refused the password",
            created_at=datetime.now(UTC) - timedelta(hours=5),
        )
        session.add(row)
        session.flush()
        return row.id


class BlockingRunner:
    """Stands in for the import runner: reports progress, then waits until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Event()
        self.calls = 0

    def run(self, name: str, progress: Any = None) -> Any:
        self.calls += 1
        if progress:
            progress("INBOX", 3, 10)
        self.started.set()
        self.release.wait(10)

        class Result:
            def to_json(self) -> dict[str, Any]:
                return {"import": name, "state": "ok", "new": 10, "skipped_duplicates": 0,
                        "defective": 0, "errors": [], "folders": [], "seconds": 0.1}  # fmt: skip

        return Result()

    def run_import(self, import_id: int, progress: Any = None, stop: Any = None,
                   lease: Any = None) -> Any:  # fmt: skip
        """What the ``import.run`` job calls: the import by id (here always "work")."""
        return self.run("work", progress)


@pytest.fixture
def blocking(app: FastAPI) -> Any:
    runner = BlockingRunner()
    state_of(app).runs.make_runner = lambda _ws: runner  # type: ignore[assignment,return-value]
    yield runner
    runner.release.set()


# -- the tests --------------------------------------------------------------------------------

ROUTES = [
    ("GET", "/imports"),
    ("POST", "/imports"),
    ("GET", "/imports/work"),
    ("PATCH", "/imports/work"),
    ("DELETE", "/imports/work"),
    ("POST", "/imports/work/runs"),
    ("GET", "/imports/work/runs/current"),
    ("GET", "/alerts"),
    ("POST", "/alerts/1/resolve"),
    ("GET", "/dashboard"),
]


def test_every_route_refuses_an_anonymous_caller(
    app: FastAPI, client: TestClient, alice: UserView
) -> None:
    make_account(app, alice)
    make_import(app, alice)
    for method, path in ROUTES:
        answer = client.request(method, API + path, json={})
        assert answer.status_code == 401, (method, path, answer.text)


def test_create_list_change_and_remove(app: FastAPI, client: TestClient, alice: UserView) -> None:
    make_account(app, alice)
    auth = bearer(app, alice)
    made = client.post(
        f"{API}/imports",
        json={"name": "work", "account": "acct", "folders": ["INBOX", " Sent "], "every": "20m"},
        headers=auth,
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["folders"] == ["INBOX", "Sent"] and body["every"] == "20m"
    assert body["state"] == "ok" and body["running"] is False and body["last_run"] is None
    again = client.post(f"{API}/imports", json={"name": "work", "account": "acct"}, headers=auth)
    assert again.status_code == 409
    nobody = client.post(f"{API}/imports", json={"name": "x", "account": "nope"}, headers=auth)
    assert nobody.status_code == 404
    bad = client.post(
        f"{API}/imports", json={"name": "y", "account": "acct", "every": "10s"}, headers=auth
    )
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_input"

    assert [i["name"] for i in client.get(f"{API}/imports", headers=auth).json()] == ["work"]
    changed = client.patch(f"{API}/imports/work", json={"every": "1h"}, headers=auth)
    assert changed.status_code == 200, changed.text
    assert changed.json()["every"] == "1h" and changed.json()["folders"] == ["INBOX", "Sent"]
    manual = client.patch(
        f"{API}/imports/work", json={"every": None, "folders": None}, headers=auth
    )
    assert manual.json()["every"] is None and manual.json()["folders"] is None
    assert manual.json()["next_run_at"] is None

    assert client.delete(f"{API}/imports/work", headers=auth).status_code == 204
    assert client.get(f"{API}/imports/work", headers=auth).status_code == 404


def test_another_workspace_sees_nothing(
    app: FastAPI, client: TestClient, alice: UserView, bob: UserView
) -> None:
    make_account(app, alice)
    make_import(app, alice)
    alert = add_alert(app, alice, "work")
    seed_messages(app, alice, [mail(1, "carol@acme.test", datetime.now(UTC))])
    auth = bearer(app, bob)
    assert client.get(f"{API}/imports", headers=auth).json() == []
    for method, path in ROUTES[2:7]:
        answer = client.request(method, API + path, json={}, headers=auth)
        assert answer.status_code == 404, (method, path, answer.text)
    assert client.get(f"{API}/alerts", headers=auth).json() == []
    assert client.post(f"{API}/alerts/{alert}/resolve", headers=auth).status_code == 404
    figures = client.get(f"{API}/dashboard", headers=auth).json()
    assert figures["messages"] == 0 and figures["imports"] == [] and figures["alerts"] == []
    # and bob's own import of the same name is his, not alice's
    make_account(app, bob)
    make_import(app, bob, every=3600)
    assert client.get(f"{API}/imports/work", headers=auth).json()["every"] == "1h"
    assert client.get(f"{API}/imports/work", headers=bearer(app, alice)).json()["every"] == "20m"


def test_the_session_cookie_needs_the_csrf_header(
    app: FastAPI, client: TestClient, alice: UserView
) -> None:
    make_account(app, alice)
    csrf = sign_in(client, alice.email)
    assert client.get(f"{API}/imports").status_code == 200
    refused = client.post(f"{API}/imports", json={"name": "work", "account": "acct"})
    assert refused.status_code == 403
    made = client.post(
        f"{API}/imports",
        json={"name": "work", "account": "acct"},
        headers={"X-CSRF-Token": csrf},
    )
    assert made.status_code == 201
    assert client.delete(f"{API}/imports/work").status_code == 403
    assert client.post(f"{API}/imports/work/runs").status_code == 403


def test_a_run_starts_once_and_reports_progress_then_figures(
    app: FastAPI, client: TestClient, alice: UserView, blocking: BlockingRunner
) -> None:
    make_account(app, alice)
    make_import(app, alice)
    auth = bearer(app, alice)
    assert client.get(f"{API}/imports/work/runs/current", headers=auth).status_code == 404
    started = client.post(f"{API}/imports/work/runs", headers=auth)
    assert started.status_code == 202, started.text
    assert started.json()["running"] is True and started.json()["here"] is True
    assert blocking.started.wait(5)
    current = client.get(f"{API}/imports/work/runs/current", headers=auth).json()
    assert current["running"] is True
    assert current["folders"] == [{"folder": "INBOX", "done": 3, "total": 10}]
    second = client.post(f"{API}/imports/work/runs", headers=auth)
    assert second.status_code == 409 and "this server" in second.json()["error"]["message"]
    assert client.delete(f"{API}/imports/work", headers=auth).status_code == 409
    blocking.release.set()
    state_of(app).runs.wait(alice.workspace_id, "work", 5)
    done = client.get(f"{API}/imports/work/runs/current", headers=auth).json()
    assert done["running"] is False and done["result"]["new"] == 10 and done["error"] is None
    assert blocking.calls == 1


def test_a_run_held_elsewhere_is_refused(app: FastAPI, client: TestClient, alice: UserView) -> None:
    make_account(app, alice)
    make_import(app, alice)
    lease = Lease(state_of(app).db, import_id(app, alice, "work"))
    assert lease.acquire() is None
    auth = bearer(app, alice)
    try:
        answer = client.post(f"{API}/imports/work/runs", headers=auth)
        assert answer.status_code == 409 and "elsewhere" in answer.json()["error"]["message"]
        assert client.get(f"{API}/imports/work", headers=auth).json()["running"] is True
    finally:
        lease.release()
    assert client.get(f"{API}/imports/work", headers=auth).json()["running"] is False


def test_a_failed_run_reports_its_diagnosis(
    app: FastAPI, client: TestClient, alice: UserView
) -> None:
    make_account(app, alice)  # nothing listens on its IMAP port
    make_import(app, alice)
    auth = bearer(app, alice)
    assert client.post(f"{API}/imports/work/runs", headers=auth).status_code == 202
    state_of(app).runs.wait(alice.workspace_id, "work", 30)
    current = client.get(f"{API}/imports/work/runs/current", headers=auth).json()
    assert current["running"] is False
    errors = (current["result"] or {}).get("errors") or [current["error"]]
    assert errors[0]["code"] == "connection_refused", current
    shown = client.get(f"{API}/imports/work", headers=auth).json()
    assert shown["state"] == "connect_error"
    assert shown["last_error"]["code"] == "connection_refused" and shown["last_error"]["advice"]


def test_alerts_list_and_resolve(app: FastAPI, client: TestClient, alice: UserView) -> None:
    make_account(app, alice)
    make_import(app, alice)
    alert = add_alert(app, alice, "work")
    auth = bearer(app, alice)
    listed = client.get(f"{API}/alerts", headers=auth).json()
    assert [(a["id"], a["import"], a["code"]) for a in listed] == [
        (alert, "work", "needs_app_password")
    ]
    resolved = client.post(f"{API}/alerts/{alert}/resolve", headers=auth)
    assert resolved.status_code == 200 and resolved.json()["resolved_at"]
    assert client.get(f"{API}/alerts", headers=auth).json() == []
    assert len(client.get(f"{API}/alerts?open=false", headers=auth).json()) == 1
    assert client.post(f"{API}/alerts/999999/resolve", headers=auth).status_code == 404


def test_the_dashboard_counts_by_message_date(
    app: FastAPI, client: TestClient, alice: UserView
) -> None:
    make_account(app, alice, address="me@example.com")
    make_import(app, alice)
    from mailmatch.contacts.service import RecordService

    RecordService(state_of(app).db, workspace_id=alice.workspace_id).add_contact(
        "carol@acme.test", name="Carol"
    )
    today = datetime.now(UTC).replace(hour=0, minute=0)  # not later than now: not future-dated
    raws = [mail(n, "carol@acme.test", today - timedelta(days=n % 3)) for n in range(5)]
    raws += [mail(10 + n, "stranger@other.test", today) for n in range(3)]
    raws += [mail(20, "stranger@other.test", today - timedelta(days=45))]  # outside the window
    seed_messages(app, alice, raws)
    figures = client.get(f"{API}/dashboard?count_by=message_date", headers=bearer(app, alice))
    figures = figures.json()
    assert figures["counted_by"] == "message_date"
    assert (figures["matched"], figures["unmatched"], figures["ignored"]) == (5, 3, 0)
    assert figures["messages"] == 9 and figures["contacts"] == 1 and figures["accounts"] == 1
    days = figures["days"]
    assert len(days) == 30 and days[-1]["day"] == today.date().isoformat()
    assert days[-1] == {"day": today.date().isoformat(), "matched": 2, "unmatched": 3, "ignored": 0}
    assert sum(d["matched"] for d in days[-3:]) == 5
    assert [i["name"] for i in figures["imports"]] == ["work"]
