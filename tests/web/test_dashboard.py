"""The dashboard: first-run page, figures by processing time or message date over a range,
import health, alerts."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import event, update

from mailmatch.contacts.service import RecordService
from mailmatch.reports.dashboard import DashboardService
from mailmatch.store.models import Message
from mailmatch.users.service import UserView
from tests.web.conftest import PHONE, LiveServer, bearer, browser_sign_in, sign_in
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
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0)  # never later than now
    raws = [mail(n, "someone@else.test", today - timedelta(days=n)) for n in range(4)]
    raws.append(mail(9, "me@example.com", today))  # our own address: ignored
    seed_messages(app, alice, raws)
    seed_messages(app, bob, [mail(n, "x@y.test", today) for n in range(50, 53)])

    csrf = sign_in(client, alice.email)
    html = client.get("/").text  # all five were processed today: one bar
    assert 'data-stat="unmatched">4<' in html and 'data-stat="ignored">1<' in html
    assert 'data-stat="matched">0<' in html and 'data-stat="messages">5<' in html
    assert html.count('class="seg unmatched"') == 1 and html.count('class="bar"') == 30
    html = client.get("/?count_by=message_date").text  # on the four days they are dated
    assert 'data-stat="unmatched">4<' in html and 'data-stat="ignored">1<' in html
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
    assert "No mail processed in the last 30 days" in html
    assert 'href="/imports#new-import"' in html


def stat(html: str, name: str) -> str:
    found = re.search(rf'data-stat="{name}">([^<]*)<', html)
    assert found, f"no {name} figure on the page"
    return found.group(1)


def processed_days_ago(app: FastAPI, pks: list[int], days: int) -> None:
    """Pretend these messages were stored and matched ``days`` ago."""
    with state_of(app).db.session() as session:
        session.execute(
            update(Message)
            .where(Message.id.in_(pks))
            .values(created_at=datetime.now(UTC) - timedelta(days=days))
        )


def test_old_mail_counts_on_the_day_it_was_processed(
    app: FastAPI, client: TestClient, alice: UserView
) -> None:
    """A first import of years-old mail fills the dashboard at once (it used to show zeros and
    "No mail dated in the last 30 days"); the message date is one click away."""
    make_account(app, alice, address="me@example.com")
    make_import(app, alice, "work")
    RecordService(state_of(app).db, workspace_id=alice.workspace_id).add_contact(
        "carol@acme.test", name="Carol"
    )
    now = datetime.now(UTC)
    written = datetime(now.year - 8, 6, 3, 10, tzinfo=UTC)
    raws = [mail(n, "carol@acme.test", written - timedelta(days=n)) for n in range(3)]
    raws += [mail(10 + n, "stranger@other.test", written) for n in range(2)]
    seed_messages(app, alice, raws)
    sign_in(client, alice.email)

    html = client.get("/").text
    assert [stat(html, s) for s in ("matched", "unmatched", "ignored")] == ["3", "2", "0"]
    assert "Mail processed" in html and "No mail" not in html
    assert 'aria-current="true" title="The day mailmatch stored' in html

    dated = client.get("/?count_by=message_date").text
    assert (stat(dated, "matched"), stat(dated, "unmatched")) == ("0", "0")
    assert "No mail dated in the last 30 days" in dated
    assert 'href="/?count_by=processed&amp;range=30d"' in dated  # the way back
    assert 'href="/?count_by=message_date&amp;range=all"' in dated

    ever = client.get("/?count_by=message_date&range=all").text
    assert (stat(ever, "matched"), stat(ever, "unmatched")) == ("3", "2")
    assert "Mail per year" in ever and ever.count('class="bar"') == 9  # 8 years ago to now


def test_future_dated_mail_is_counted_apart_not_as_today(
    app: FastAPI, client: TestClient, alice: UserView
) -> None:
    make_account(app, alice, address="me@example.com")
    now = datetime.now(UTC)
    seed_messages(
        app,
        alice,
        [
            mail(1, "ann@else.test", now - timedelta(minutes=5)),
            mail(2, "bob@else.test", now + timedelta(hours=2)),  # a clock two hours fast
            mail(3, "spam@else.test", now + timedelta(days=400)),  # spam "from" next year
        ],
    )
    service = DashboardService(state_of(app).db, workspace_id=alice.workspace_id)
    dated = service.dashboard(count_by="message_date")
    assert dated.future_dated == 2 and dated.unmatched == 1
    assert dated.days[-1].unmatched == 1  # today holds only the mail written before now
    processed = service.dashboard()
    assert processed.future_dated == 2 and processed.days[-1].unmatched == 3

    sign_in(client, alice.email)
    html = client.get("/?count_by=message_date").text
    assert stat(html, "future_dated") == "2" and "future-dated" in html
    assert "on no day of this chart" in html
    figures = client.get("/api/v1/dashboard", headers=bearer(app, alice)).json()
    assert figures["future_dated"] == 2 and figures["days"][-1]["unmatched"] == 3


def test_the_api_picks_the_range_and_the_counting(
    app: FastAPI, client: TestClient, alice: UserView
) -> None:
    make_account(app, alice, address="me@example.com")
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0)
    pks = seed_messages(app, alice, [mail(n, f"s{n}@else.test", today) for n in range(4)])
    processed_days_ago(app, pks[2:3], 40)
    processed_days_ago(app, pks[3:4], 200)
    auth = bearer(app, alice)

    def figures(query: str = "") -> dict[str, Any]:
        answer = client.get(f"/api/v1/dashboard{query}", headers=auth)
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    default = figures()
    assert {"since", "until", "counted_by", "matched", "unmatched", "ignored", "messages",
            "contacts", "accounts", "days", "imports", "alerts"} <= set(default)  # fmt: skip
    view = (default["counted_by"], default["range"], default["bucket"])
    assert view == ("processed", "30d", "day")
    assert len(default["days"]) == 30 and default["unmatched"] == 2
    ninety = figures("?range=90d")
    assert ninety["bucket"] == "week" and len(ninety["days"]) == 13
    assert ninety["unmatched"] == 3 and sum(d["unmatched"] for d in ninety["days"]) == 3
    year = figures("?range=1y")
    assert year["bucket"] == "week" and len(year["days"]) == 53 and year["unmatched"] == 4
    ever = figures("?range=all")
    assert ever["unmatched"] == 4 and ever["days"][0]["day"] == ever["since"]
    assert ever["since"] == (today - timedelta(days=200)).date().isoformat()
    by_date = figures("?count_by=message_date&range=30d")  # all four are dated today
    assert by_date["counted_by"] == "message_date" and by_date["days"][-1]["unmatched"] == 4
    for wrong in ("?range=2y", "?count_by=matched_at"):
        refused = client.get(f"/api/v1/dashboard{wrong}", headers=auth)
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "invalid_input"


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
        figures = service.dashboard(count_by="message_date")
        everything = service.dashboard("all")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert figures.unmatched == 600 and all(d.unmatched == 20 for d in figures.days)
    assert everything.unmatched == 600 and everything.days[-1].unmatched == 600
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) <= 2 * 7


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


def test_every_page_links_the_favicon(client: TestClient, alice: UserView) -> None:
    login = client.get("/login").text
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in login
    sign_in(client, alice.email)
    assert 'rel="icon" href="/static/favicon.svg"' in client.get("/").text
    for path, kind in (
        ("/static/favicon.svg", "image/svg+xml"),
        ("/static/favicon-32.png", "image/png"),
        ("/static/apple-touch-icon.png", "image/png"),
    ):
        icon = client.get(path)
        assert icon.status_code == 200 and icon.headers["content-type"] == kind, path
        assert icon.content[:5] in (b"<svg ", b"\x89PNG\r"), path


def seed_dashboard(app: FastAPI, user: UserView) -> None:
    """A mailbox with a fortnight of mail, some of it matched, and one future-dated message."""
    make_account(app, user, address="me@example.com")
    make_import(app, user, "work")
    RecordService(state_of(app).db, workspace_id=user.workspace_id).add_contact(
        "carol@acme.test", name="Carol"
    )
    now = datetime.now(UTC)
    raws = [mail(n, "carol@acme.test", now - timedelta(days=n % 14, hours=1)) for n in range(30)]
    others = [(99 + n, f"s{n}@else.test", now - timedelta(days=n % 9, hours=2)) for n in range(25)]
    raws += [mail(*other) for other in others]
    raws += [mail(200, "me@example.com", now - timedelta(days=2))]
    raws += [mail(300, "clock@skew.test", now + timedelta(days=30))]
    seed_messages(app, user, raws)


def test_dashboard_views_browser(
    screenshots: Path, app: FastAPI, live_server: LiveServer, page: Any, phone: Any
) -> None:
    """The view switch swaps the figures in place (htmx) and keeps the address bookmarkable."""
    from tests.web.conftest import add_user

    user = add_user(app, "views@example.org")
    seed_dashboard(app, user)
    browser_sign_in(page, live_server.url, user.email)
    assert page.locator("[data-stat=matched]").inner_text() == "30"
    assert page.locator(".nav-toggle-label").is_hidden()  # the sidebar, on a laptop
    page.screenshot(path=str(screenshots / "dashboard-processed-laptop.png"), full_page=True)

    page.locator(".view-switch a", has_text="Message date").click()
    page.wait_for_url(re.compile(r".*count_by=message_date"))
    page.locator('.view-switch a[aria-current="true"]', has_text="Message date").wait_for()
    assert page.locator("[data-stat=future_dated]").inner_text() == "1"
    assert page.locator("#dashboard-period").inner_text().startswith("Mail dated")
    assert page.locator(".bar-chart .seg.matched").count() == 14
    page.screenshot(path=str(screenshots / "dashboard-message-date-laptop.png"), full_page=True)
    page.locator(".view-switch a", has_text="A year").click()
    page.wait_for_url(re.compile(r".*range=1y"))
    page.locator(".chart-card h2", has_text="Mail per week").wait_for()

    browser_sign_in(phone, live_server.url, user.email)
    phone.goto(f"{live_server.url}/?count_by=message_date&range=90d")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the dashboard overflows a phone: {width}px"
    phone.screenshot(path=str(screenshots / "dashboard-views-phone.png"), full_page=True)


def test_phone_navigation_browser(
    screenshots: Path, app: FastAPI, live_server: LiveServer, phone: Any
) -> None:
    """On a phone the menu folds behind a toggle that names the current page; open, every
    entry is on screen (it used to be a sideways strip with the current page off screen)."""
    from tests.web.conftest import add_user

    user = add_user(app, "phone@example.org")
    seed_dashboard(app, user)
    browser_sign_in(phone, live_server.url, user.email)
    phone.goto(f"{live_server.url}/settings")
    toggle = phone.locator(".nav-toggle-label")
    assert toggle.is_visible() and toggle.locator(".nav-current").inner_text() == "API tokens"
    assert phone.locator("#main-nav a").first.is_hidden()
    phone.screenshot(path=str(screenshots / "nav-closed-phone.png"))

    toggle.click()
    links = phone.locator("#main-nav a")
    assert links.count() == 13
    for n in range(links.count()):
        box = links.nth(n).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    current = phone.locator('#main-nav a[aria-current="page"]')
    assert current.inner_text() == "API tokens"
    box = current.bounding_box()
    assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"]
    assert phone.locator(".sidebar-foot button", has_text="Sign out").is_visible()
    phone.screenshot(path=str(screenshots / "nav-open-phone.png"))

    links.filter(has_text="Messages").click()
    phone.wait_for_url(re.compile(r".*/messages$"))
    assert toggle.locator(".nav-current").inner_text() == "Messages"
    assert phone.locator("#main-nav a").first.is_hidden()  # closed again on the new page
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], width
