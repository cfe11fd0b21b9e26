"""Two users in two workspaces, in a real browser: the second never sees the first one's data.

Lists show nothing of it, search finds nothing, and typing the first user's URLs (message,
raw download, contact, import) gives the same "not found" page as a URL that never existed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI

from mailmatch.contacts.service import RecordService
from mailmatch.imports.service import ImportService
from mailmatch.store.models import Account
from mailmatch.users.service import UserView
from tests.web.conftest import PHONE, LiveServer, browser_sign_in
from tests.web.test_messages_pages import ALICE_MAIL, store_mail


def _alice_data(app: FastAPI, alice: UserView, tmp_path: Path) -> dict[str, int]:
    state = app.state.mailmatch
    ids = store_mail(app, alice, ALICE_MAIL, tmp_path)
    records = RecordService(state.db, workspace_id=alice.workspace_id)
    records.add_contact("jane@acme.test", "Jane Doe", company="Acme")
    secret, key_id = state.vault.encrypt("not used")
    with state.db.session() as session:  # an account row needs no server for this test
        session.add(
            Account(
                workspace_id=alice.workspace_id, name="alice-box", address="alice@example.org",
                username="alice@example.org", smtp_username="alice@example.org",
                provider_id=None, discovery_source="manual", imap_host="localhost", imap_port=993,
                imap_security="ssl", smtp_host="localhost", smtp_port=465, smtp_security="ssl",
                secret=secret, key_id=key_id,
            )
        )  # fmt: skip
    ImportService(state.db, workspace_id=alice.workspace_id).create(
        "alice-import", "alice-box", None, None
    )
    with state.db.read() as conn:
        contact = conn.exec_driver_sql("SELECT id FROM contacts").scalar_one()
    return ids | {"contact": int(contact)}


def _text(page: Any) -> str:
    return str(page.inner_text("main"))


def test_a_second_user_cannot_see_the_first_users_data_browser(
    app: FastAPI,
    alice: UserView,
    bob: UserView,
    live_server: LiveServer,
    browser: Any,
    tmp_path: Path,
    screenshots: Path,
) -> None:
    ids = _alice_data(app, alice, tmp_path)
    message_id = ids["proposal"]

    alice_tab = browser.new_context().new_page()
    browser_sign_in(alice_tab, live_server.url, alice.email)
    alice_tab.goto(f"{live_server.url}/messages/{message_id}")
    assert "Quarterly pricing proposal" in _text(alice_tab)  # the URL is real for its owner

    bob_context = browser.new_context(viewport=PHONE, is_mobile=True)
    tab = bob_context.new_page()
    browser_sign_in(tab, live_server.url, bob.email)
    for path in ("/", "/messages", "/contacts", "/imports", "/accounts", "/unmatched"):
        shown = tab.goto(f"{live_server.url}{path}")
        assert shown is not None and shown.status == 200, path  # his own, empty, pages
        text = _text(tab)
        for secret in ("Quarterly pricing", "Jane Doe", "alice-import", "alice-box", "acme.test"):
            assert secret not in text, (path, secret)
    tab.goto(f"{live_server.url}/messages?q=pricing")
    assert "Quarterly pricing" not in _text(tab)

    never = tab.goto(f"{live_server.url}/messages/999999")
    assert never is not None and never.status == 404
    for path in (
        f"/messages/{message_id}",
        f"/messages/{message_id}/raw",
        f"/contacts/{ids['contact']}",
    ):
        answer = tab.goto(f"{live_server.url}{path}")
        assert answer is not None and answer.status == 404, path
        assert "Quarterly pricing" not in _text(tab)
    tab.screenshot(path=str(screenshots / "isolation-not-found-phone.png"), full_page=True)

    api = tab.request.get(f"{live_server.url}/api/v1/messages/{message_id}")
    assert api.status == 404
    bob_context.close()
