"""The dashboard: first-run page, figures of the last 30 days, import health, alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event

from mailmatch.contacts.service import RecordService
from mailmatch.reports.dashboard import DashboardService
from mailmatch.users.service import UserView
from tests.web.conftest import PHONE, LiveServer, browser_sign_in, sign_in
from tests.web.test_api_imports import (
    add_alert,
    mail,
    make_account,
    make_import,
    seed_messages,
    state_of,
)

HX = {"HX-Request": "true"}


def test_a_new_workspace_is_led_to_connect(
    app: FastAPI, client: TestClient, alice: UserView
) -> None:
    sign_in(client, alice.email)
    page = client.get("/")
    assert page.status_code == 200
    assert "Welcome to mailmatch" in page.text and 'href="/connect"' in page.text
    assert 'href="/" class="active"' in page.text
    assert "bar-chart" not in page.text


def test_figures_health_and_alerts(
    app: FastAPI, client: TestClient, alice: UserView, bob: UserView
) -> None:
    make_account(app, alice, address="me@example.com")
    make_import(app, alice, "work")
    alert = add_alert(app, alice, "work")
    today = datetime.now(UTC).replace(hour=9)
    raws = [mail(n, "someone@else.test", today - timedelta(days=n)) for n in range(4)]
    raws.append(mail(9, "me@example.com", today))  # our own address: ignored
    seed_messages(app, alice, raws)
    seed_messages(app, bob, [mail(n, "x@y.test", today) for n in range(50, 53)])

    csrf = sign_in(client, alice.email)
    html = client.get("/").text
    assert 'data-stat="unmatched">4<' in html and 'data-stat="ignored">1<' in html
    assert 'data-stat="matched">0<' in html and 'data-stat="messages">5<' in html
    assert html.count('class="seg unmatched"') == 4 and html.count('class="seg ignored"') == 1
    assert 'class="bar"' in html and html.count('class="bar"') == 30
    assert "Import health" in html and ">work</a>" in html
    assert "Open alerts" in html and "the server refused the password" in html

    assert client.post(f"/alerts/{alert}/resolve", headers=HX).status_code == 403
    done = client.post(f"/alerts/{alert}/resolve", headers={**HX, "X-CSRF-Token": csrf})
    assert done.status_code == 200 and "resolved" in done.text
    assert "Open alerts" not in client.get("/").text

    client.post("/logout", data={"csrf_token": csrf})
    bob_csrf = sign_in(client, bob.email)
    other = client.get("/").text
    assert "Welcome to mailmatch" in other  # bob has messages but no mailbox of his own
    refused = client.post(f"/alerts/{alert}/resolve", headers={**HX, "X-CSRF-Token": bob_csrf})
    assert refused.status_code == 404


def test_an_account_without_imports_is_pointed_to_them(
    app: FastAPI, client: TestClient, alice: UserView
) -> None:
    make_account(app, alice)
    sign_in(client, alice.email)
    html = client.get("/").text
    assert "No mail dated in the last 30 days yet" in html
    assert 'href="/imports#new-import"' in html


def test_the_dashboard_is_a_fixed_number_of_queries(app: FastAPI, alice: UserView) -> None:
    """Not a benchmark (bench/ times 100,000 messages): a guard that the figures come from a
    fixed number of aggregate queries, however many messages and days there are."""
    make_account(app, alice, address="me@example.com")
    make_import(app, alice, "work")
    today = datetime.now(UTC)
    raws = [mail(n, f"s{n % 40}@else.test", today - timedelta(days=n % 30)) for n in range(600)]
    seed_messages(app, alice, raws)
    service = DashboardService(state_of(app).db, workspace_id=alice.workspace_id)
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engine = state_of(app).db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        figures = service.dashboard()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert figures.unmatched == 600 and all(d.unmatched == 20 for d in figures.days)
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) <= 7


def test_the_chart_is_reused_until_a_match_changes(app: FastAPI, alice: UserView) -> None:
    """The chart (the one query whose cost grows with the mail) is computed again only when
    a match was written; the figures are always those of the store."""
    today = datetime.now(UTC)
    seed_messages(app, alice, [mail(n, "ann@acme.test", today) for n in range(5)])
    db = state_of(app).db
    service = DashboardService(db, workspace_id=alice.workspace_id)
    assert service.dashboard().days[-1].unmatched == 5
    grouped: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "GROUP BY" in statement.upper():
            grouped.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        assert service.dashboard().days[-1].unmatched == 5
        assert grouped == []  # reused
        RecordService(db, workspace_id=alice.workspace_id).add_contact("ann@acme.test", "Ann")
        after = service.dashboard().days[-1]
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert (after.matched, after.unmatched) == (5, 0)
    assert len(grouped) == 1


def test_dashboard_screenshots(
    app: FastAPI, live_server: LiveServer, page: Any, phone: Any, screenshots: Path
) -> None:
    from tests.web.conftest import add_user

    empty = add_user(app, "new@example.org")
    browser_sign_in(page, live_server.url, empty.email)
    page.screenshot(path=str(screenshots / "dashboard-empty-laptop.png"), full_page=True)
    browser_sign_in(phone, live_server.url, empty.email)
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width
    phone.screenshot(path=str(screenshots / "dashboard-empty-phone.png"), full_page=True)
