"""The imports page: health, Start Import Manually with live progress, password, settings.

The browser test runs a real import from the fixture Dovecot through the page, in Chromium.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update

from mailmatch.imports.service import ImportService
from mailmatch.store.models import Import
from mailmatch.sync.lease import Lease
from mailmatch.users.service import UserView
from mailmatch.web.pages.imports import dom_id
from tests.web.conftest import PHONE, LiveServer, add_user, browser_sign_in, sign_in
from tests.web.test_api_imports import (
    BlockingRunner,
    import_id,
    mail,
    make_account,
    make_import,
    state_of,
)

HX = {"HX-Request": "true"}


def set_state(app: FastAPI, user: UserView, name: str, **values: Any) -> None:
    with state_of(app).db.session() as session:
        session.execute(
            update(Import).where(Import.id == import_id(app, user, name)).values(**values)
        )


def test_the_page_shows_each_import_with_its_health(
    app: FastAPI, client: TestClient, alice: UserView
) -> None:
    make_account(app, alice)
    make_import(app, alice, "work")
    make_import(app, alice, "paused")
    set_state(
        app,
        alice,
        "paused",
        state="needs_app_password",
        last_error={
            "code": "app_password_required",
            "message": "The server refused the password that used to work.",
            "server_text": "[AUTHENTICATIONFAILED] Authentication failed.",
            "advice": ["Generate a new app password."],
        },
        last_stats={"new": 42, "skipped_duplicates": 7, "defective": 1, "seconds": 3.25},
    )
    sign_in(client, alice.email)
    page = client.get("/imports")
    assert page.status_code == 200
    html = page.text
    assert 'href="/imports" class="active"' in html
    assert html.count("Start Import Manually") == 2
    assert "Needs a new app password" in html and 'data-state="ok"' in html
    assert ">Never run</span>" in html  # "work" was created, never started: not "OK" yet
    assert "Never run" in client.get("/").text  # the dashboard's import health says the same
    assert "[AUTHENTICATIONFAILED] Authentication failed." in html
    assert "app_password_required" in html and "Generate a new app password." in html
    assert "Change password" in html  # only the paused import offers it
    assert html.count("Change password") == 1
    assert '<span class="value num" data-figure="new">42</span>' in html and "3.2 s" in html
    assert 'id="new-import"' in html and '<option value="acct"' in html


def test_no_account_leads_to_connect(app: FastAPI, client: TestClient, alice: UserView) -> None:
    sign_in(client, alice.email)
    html = client.get("/imports").text
    assert "No imports yet" in html and 'href="/connect"' in html and "new-import" not in html


def test_create_edit_and_remove_through_forms(
    app: FastAPI, client: TestClient, alice: UserView
) -> None:
    make_account(app, alice)
    csrf = sign_in(client, alice.email)
    form = {"name": "work", "account": "acct", "folders": "INBOX, Archive", "every": "20m"}
    assert client.post("/imports", data=form).status_code == 403  # no CSRF token
    made = client.post("/imports", data={**form, "csrf_token": csrf}, follow_redirects=False)
    assert made.status_code == 303 and made.headers["location"].endswith(dom_id("work"))
    view = ImportService(state_of(app).db, workspace_id=alice.workspace_id).get("work")
    assert view.folders == ["INBOX", "Archive"] and view.every_seconds == 1200

    bad = client.post("/imports", data={**form, "name": "other", "every": "5s", "csrf_token": csrf})
    assert bad.status_code == 422 and "at most once a minute" in bad.text
    assert 'value="other"' in bad.text  # the form keeps what was typed

    edited = client.post(
        "/imports/work/edit",
        data={"folders": "INBOX", "every": "1h"},
        headers={**HX, "X-CSRF-Token": csrf},
    )
    assert edited.status_code == 200 and "Saved: folders INBOX, every 1h" in edited.text
    assert (
        ImportService(state_of(app).db, workspace_id=alice.workspace_id).get("work").every_seconds
        == 3600
    )
    wrong = client.post(
        "/imports/work/edit",
        data={"folders": "", "every": "soon"},
        headers={**HX, "X-CSRF-Token": csrf},
    )
    assert "not a schedule" in wrong.text and 'value="soon"' in wrong.text

    assert client.post("/imports/work/remove", headers=HX).status_code == 403
    gone = client.post("/imports/work/remove", headers={**HX, "X-CSRF-Token": csrf})
    assert gone.status_code == 200 and "was removed" in gone.text
    assert ImportService(state_of(app).db, workspace_id=alice.workspace_id).list() == []


def test_start_shows_progress_once_and_refreshes_the_status(
    app: FastAPI, client: TestClient, alice: UserView
) -> None:
    runner = BlockingRunner()
    state_of(app).runs.make_runner = lambda _ws: runner  # type: ignore[assignment,return-value]
    make_account(app, alice)
    make_import(app, alice)
    csrf = sign_in(client, alice.email)
    headers = {**HX, "X-CSRF-Token": csrf}
    try:
        assert client.post("/imports/work/run", headers=HX).status_code == 403
        first = client.post("/imports/work/run", headers=headers)
        assert first.status_code == 200
        assert 'hx-trigger="every 1s"' in first.text and 'hx-get="/imports/work/run"' in first.text
        assert 'hx-swap-oob="true"' in first.text  # the status shows it running, button disabled
        assert runner.started.wait(5)
        polled = client.get("/imports/work/run", headers=HX).text
        assert "every 1s" in polled and "INBOX" in polled and 'value="3"' in polled
        second = client.post("/imports/work/run", headers=headers).text
        assert "already running" in second
        page = client.get("/imports").text
        assert "Importing…" in page and "every 1s" in page
    finally:
        runner.release.set()
    state_of(app).runs.wait(alice.workspace_id, "work", 5)
    assert runner.calls == 1
    done = client.get("/imports/work/run", headers=HX).text
    assert "every 1s" not in done and "Finished" in done
    assert '<div class="value" data-figure="run-new">10</div>' in done
    assert 'hx-swap-oob="true"' in done and "Start Import Manually" in done


def test_a_run_held_elsewhere_is_shown_not_doubled(
    app: FastAPI, client: TestClient, alice: UserView
) -> None:
    make_account(app, alice)
    make_import(app, alice)
    lease = Lease(state_of(app).db, import_id(app, alice, "work"))
    assert lease.acquire() is None
    csrf = sign_in(client, alice.email)
    try:
        page = client.get("/imports").text
        assert "Running elsewhere" in page and lease.owner in page
        answer = client.post("/imports/work/run", headers={**HX, "X-CSRF-Token": csrf}).text
        assert "Already running elsewhere" in answer
        assert state_of(app).runs.get(alice.workspace_id, "work") is None
    finally:
        lease.release()


def test_another_workspace_gets_404(
    app: FastAPI, client: TestClient, alice: UserView, bob: UserView
) -> None:
    make_account(app, alice)
    make_import(app, alice)
    csrf = sign_in(client, bob.email)
    headers = {**HX, "X-CSRF-Token": csrf}
    assert dom_id("work") not in client.get("/imports").text
    for path in ("/imports/work/run", "/imports/work/edit", "/imports/work/remove",
                 "/imports/work/password"):  # fmt: skip
        assert client.post(path, headers=headers).status_code == 404, path
    assert client.get("/imports/work/run", headers=HX).status_code == 404
    assert client.get("/imports/work/card").status_code == 404


def test_a_new_password_takes_the_import_out_of_needs_app_password(
    app: FastAPI, client: TestClient, alice: UserView, dovecot: Any
) -> None:
    address = f"pw-{id(app)}@example.com"
    dovecot.add_user(address, "new-app-password")
    make_account(app, alice, address=address, password="revoked",
                 port=dovecot.imaps_port, ca_file=str(dovecot.ca_file))  # fmt: skip
    make_import(app, alice)
    set_state(app, alice, "work", state="needs_app_password", last_run_at=datetime.now(UTC))
    csrf = sign_in(client, alice.email)
    headers = {**HX, "X-CSRF-Token": csrf}
    wrong = client.post("/imports/work/password", data={"password": "still-wrong"}, headers=headers)
    assert "IMAP sign-in failed" in wrong.text and 'name="password"' in wrong.text
    assert ImportService(state_of(app).db, workspace_id=alice.workspace_id).get("work").state == (
        "needs_app_password"
    )
    right = client.post(
        "/imports/work/password", data={"password": " new-app-password "}, headers=headers
    )
    assert "IMAP sign-in works" in right.text and "Spaces or separators" in right.text
    view = ImportService(state_of(app).db, workspace_id=alice.workspace_id).get("work")
    assert view.state == "ok" and view.next_run_at is not None


def test_start_import_manually_browser(
    app: FastAPI,
    live_server: LiveServer,
    page: Any,
    phone: Any,
    dovecot: Any,
    screenshots: Path,
) -> None:
    user = add_user(app, "runner@example.org")
    address = f"browser-{id(app)}@example.com"
    dovecot.add_user(address, "imap-pass")
    today = datetime.now(UTC).replace(microsecond=0)
    count = 7
    for n in range(count):
        dovecot.deliver(address, mail(n, f"sender{n}@partner.test", today - timedelta(days=n)))
    make_account(app, user, "mailbox", address=address, password="imap-pass",
                 port=dovecot.imaps_port, ca_file=str(dovecot.ca_file))  # fmt: skip
    make_import(app, user, "inbox", "mailbox")
    make_account(app, user, "broken")  # its IMAP port answers nothing
    make_import(app, user, "broken", "broken", every=3600)

    browser_sign_in(page, live_server.url, user.email)
    page.goto(f"{live_server.url}/imports")
    card = page.locator(f"#{dom_id('inbox')}")
    card.locator("text=Start Import Manually").wait_for()
    page.screenshot(path=str(screenshots / "imports-idle-laptop.png"), full_page=True)

    card.locator("button.start-import").click()
    card.locator(".run-panel").wait_for()
    card.locator("[data-figure=run-new]").wait_for(timeout=30_000)
    assert card.locator("[data-figure=run-new]").inner_text() == str(count)
    assert card.locator(".folder-progress").inner_text().startswith("INBOX")
    # the last poll refreshed the status: figures of this run, the button back
    card.locator("[data-figure=new]", has_text=str(count)).wait_for()
    assert card.locator("button.start-import").is_enabled()
    assert not card.locator("[data-running]").count()
    page.screenshot(path=str(screenshots / "imports-finished-laptop.png"), full_page=True)

    broken = page.locator(f"#{dom_id('broken')}")
    broken.locator("button.start-import").click()
    broken.locator(".run-panel .notice.error").wait_for(timeout=30_000)
    page.goto(f"{live_server.url}/imports")
    assert "connection_refused" in broken.locator(".import-status").inner_text()
    page.screenshot(path=str(screenshots / "imports-failed-laptop.png"), full_page=True)

    page.goto(f"{live_server.url}/?count_by=message_date")  # a bar for each day of the mail
    assert page.locator("[data-stat=messages]").inner_text() == str(count)
    assert page.locator("[data-stat=unmatched]").inner_text() == str(count)
    assert page.locator(".bar-chart .seg.unmatched").count() == count
    page.screenshot(path=str(screenshots / "dashboard-data-laptop.png"), full_page=True)

    browser_sign_in(phone, live_server.url, user.email)
    phone.goto(f"{live_server.url}/imports")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the imports page overflows a phone: {width}px"
    phone.screenshot(path=str(screenshots / "imports-phone.png"), full_page=True)
    phone.goto(f"{live_server.url}/")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the dashboard overflows a phone: {width}px"
    phone.screenshot(path=str(screenshots / "dashboard-data-phone.png"), full_page=True)
    assert re.search(r"\d", phone.locator("[data-stat=matched]").inner_text())
