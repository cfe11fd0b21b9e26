"""Contacts, companies, deals, the unmatched queue, rules, webhooks and API tokens pages, and
the browser test: a contact made in the browser shows its matched mail with reasons."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import expect

from mailmatch.contacts.rules import RuleService
from mailmatch.users.service import UserView
from tests.web.conftest import LiveServer, bearer, browser_sign_in, sign_in
from tests.web.test_messages_pages import ALICE_MAIL, BOB_MAIL, Mail, store_mail


@pytest.fixture
def mail(app: FastAPI, alice: UserView, bob: UserView, tmp_path: Path) -> dict[str, int]:
    """Alice's and Bob's mail; Alice's own address is ignored, as a connected mailbox's is."""
    RuleService(app.state.mailmatch.db, workspace_id=alice.workspace_id).add_rule(
        "address", "alice@example.org"
    )
    return store_mail(app, alice, ALICE_MAIL, tmp_path) | store_mail(app, bob, BOB_MAIL, tmp_path)


def _created_id(response: Any, kind: str) -> int:
    assert response.status_code == 303, response.text
    found = re.match(rf"/{kind}/(\d+)\?matched=(\d+)$", response.headers["location"])
    assert found, response.headers["location"]
    return int(found.group(1))


def test_new_contact_shows_its_matched_mail_with_reasons(
    client: TestClient, alice: UserView, mail: dict[str, int]
) -> None:
    csrf = sign_in(client, alice.email)
    made = client.post(
        "/contacts",
        data={
            "name": "Jane Doe",
            "emails": "jane@acme.test",
            "company": "Acme",
            "csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert made.headers["location"].endswith("matched=2")  # the proposal and the reply
    page = client.get(made.headers["location"]).text
    assert "Contact saved. 2 messages re-matched." in page
    assert page.count('class="tl-subject"') == 2
    assert page.index("Re: Quarterly pricing proposal") < page.index(">Quarterly pricing proposal")
    assert f'href="/messages/{mail["proposal"]}"' in page
    assert "jane@acme.test" in page and 'class="reason' in page
    # the reason once for her address, then each message with the header she was in
    assert page.count("jane@acme.test belongs to contact Jane Doe") == 1
    assert re.findall(r'<span class="role-tag">(\w+)</span>', page) == ["To", "From"]
    listing = client.get("/contacts?q=jane").text
    assert ">Jane Doe</a>" in listing and ">Acme</a>" in listing
    assert ">Jane Doe</a>" not in client.get("/contacts?q=nobody").text


def test_forms_need_the_csrf_token(client: TestClient, alice: UserView) -> None:
    sign_in(client, alice.email)
    for url, data in (
        ("/contacts", {"emails": "x@y.test"}),
        ("/companies", {"name": "X"}),
        ("/deals", {"title": "X"}),
        ("/unmatched/ignore", {"email": "x@y.test"}),
        ("/rules", {"kind": "address", "value": "x@y.test"}),
        ("/webhooks", {"url": "https://x.test/", "secret": "s"}),
        ("/settings/tokens", {"name": "x"}),
        ("/contacts/1/edit", {"emails": "x@y.test"}),
        ("/companies/1/edit", {"name": "X"}),
        ("/deals/1/edit", {"title": "X"}),
        ("/contacts/1/delete", {}),
        ("/companies/1/delete", {}),
        ("/deals/1/delete", {}),
    ):
        answer = client.post(url, data={**data, "csrf_token": "forged"})
        assert answer.status_code == 403, url
    assert "x@y.test" not in client.get("/contacts").text


def test_editing_a_contact_moves_its_mail_and_deleting_asks_first(
    client: TestClient, alice: UserView, mail: dict[str, int]
) -> None:
    csrf = sign_in(client, alice.email)
    jane = _created_id(
        client.post(
            "/contacts",
            data={"name": "Jane", "emails": "jane@acme.test", "csrf_token": csrf},
            follow_redirects=False,
        ),
        "contacts",
    )
    page = client.get(f"/contacts/{jane}").text
    assert f'href="/contacts/{jane}/edit"' in page and f'href="/contacts/{jane}/delete"' in page
    form = client.get(f"/contacts/{jane}/edit").text
    assert ">jane@acme.test</textarea>" in form and 'value="Jane"' in form

    saved = client.post(
        f"/contacts/{jane}/edit",
        data={
            "name": "Jane Lane",
            "emails": "tom@acme.test",
            "company": "Acme",
            "title": "Buyer",
            "csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert saved.headers["location"] == f"/contacts/{jane}?matched=3"
    page = client.get(saved.headers["location"]).text
    assert "Contact saved. 3 messages re-matched." in page
    assert page.count('class="tl-subject"') == 1 and "Invoice 42 for March" in page
    assert "Buyer" in page and ">Acme</a>" in page
    assert 'id="sender-jane@acme.test"' in client.get("/unmatched").text

    refused = client.post(
        f"/contacts/{jane}/edit", data={"emails": "nope", "name": "Zed", "csrf_token": csrf}
    )
    assert refused.status_code == 422
    assert "not an email address" in refused.text and 'value="Zed"' in refused.text

    confirm = client.get(f"/contacts/{jane}/delete").text
    assert "Delete Jane Lane?" in confirm and f'action="/contacts/{jane}/delete"' in confirm
    assert "1 message matched to this contact will be matched again" in confirm
    assert client.get("/contacts").text.count(">Jane Lane</a>") == 1  # still there
    gone = client.post(
        f"/contacts/{jane}/delete", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert gone.status_code == 303
    listing = client.get(gone.headers["location"]).text
    assert "Deleted contact <strong" in listing
    assert "Jane Lane</strong>; 1 message re-matched" in listing
    assert ">Jane Lane</a>" not in listing
    assert client.get(f"/contacts/{jane}/edit").status_code == 404


def test_deleting_a_company_sends_its_mail_back_to_the_queue(
    client: TestClient, alice: UserView, mail: dict[str, int]
) -> None:
    csrf = sign_in(client, alice.email)
    acme = _created_id(
        client.post(
            "/companies",
            data={"name": "Acme", "domains": "acme.test", "csrf_token": csrf},
            follow_redirects=False,
        ),
        "companies",
    )
    assert 'id="sender-tom@acme.test"' not in client.get("/unmatched").text
    renamed = client.post(
        f"/companies/{acme}/edit",
        data={"name": "Acme Ltd", "domains": "acme.test", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert renamed.headers["location"] == f"/companies/{acme}?matched=3"
    assert "a domain of Acme Ltd" in client.get(f"/companies/{acme}").text
    deal = _created_id(
        client.post(
            "/deals",
            data={"title": "Renewal", "company": "Acme Ltd", "csrf_token": csrf},
            follow_redirects=False,
        ),
        "deals",
    )
    closed = client.post(
        f"/deals/{deal}/edit",
        data={"title": "Renewal", "stage": "lost", "company": "Acme Ltd", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert closed.headers["location"] == f"/deals/{deal}?matched=3"
    deal_page = client.get(f"/deals/{deal}").text
    assert "lost" in deal_page and 'class="tl-subject"' not in deal_page  # closed: no mail

    client.post(f"/companies/{acme}/delete", data={"csrf_token": csrf})
    queue = client.get("/unmatched").text
    assert 'id="sender-tom@acme.test"' in queue and 'id="sender-jane@acme.test"' in queue
    assert '<p class="muted small">None.</p>' in client.get(f"/deals/{deal}").text


def test_a_contacts_file_uploaded_on_the_contacts_page_shows_the_column_report(
    client: TestClient, alice: UserView, mail: dict[str, int]
) -> None:
    csrf = sign_in(client, alice.email)
    contacts = client.get("/contacts").text
    assert 'enctype="multipart/form-data"' in contacts and 'action="/contacts/import"' in contacts
    sheet = (
        "First Name,Last Name,Email,Company Name,Favourite Colour\n"
        "Jane,Doe,jane@acme.test,Acme,blue\n"
        "Nobody,Here,,,green\n"
    )
    done = client.post(
        "/contacts/import",
        data={"csrf_token": csrf},
        files={"file": ("hubspot.csv", sheet.encode(), "text/csv")},
    )
    assert done.status_code == 200, done.text
    page = done.text
    assert "hubspot.csv</strong> (CSV)" in page
    assert "1 contact created" in page and "2 messages re-matched" in page
    assert '<td class="break">Email</td><td><code>email</code>' in page
    assert "Favourite Colour" in page
    assert "<strong>row 3</strong>: no email address" in page
    assert "Check the accents" not in page and "Fallback lines" not in page  # all UTF-8
    assert ">Jane Doe</a>" in client.get("/contacts").text

    mixed = "name,email\nJosé Müller,jose@firma.test\n".encode() + (
        "François Dœuf,francois@firma.test\n".encode("cp1252")
    )
    fallback = client.post(
        "/contacts/import",
        data={"csrf_token": csrf},
        files={"file": ("excel.csv", mixed, "text/csv")},
    ).text
    assert "Check the accents" in fallback and "read as Windows-1252" in fallback
    assert "line 3." in " ".join(fallback.split())
    assert "François Dœuf" in client.get("/contacts").text

    forged = client.post(
        "/contacts/import",
        data={"csrf_token": "forged"},
        files={"file": ("more.csv", b"name,email\nX,x@y.test\n")},
    )
    assert forged.status_code == 403
    wrong = client.post(
        "/contacts/import", data={"csrf_token": csrf}, files={"file": ("x.pdf", b"%PDF")}
    )
    assert wrong.status_code == 422 and "expected a .csv or .vcf file" in wrong.text
    big = b"name,email\n" + b"x" * (21 * 1024 * 1024)
    huge = client.post(
        "/contacts/import", data={"csrf_token": csrf}, files={"file": ("big.csv", big)}
    )
    assert huge.status_code == 413 and "up to 20 MB" in huge.text
    assert "x@y.test" not in client.get("/contacts").text


def test_invalid_input_comes_back_in_the_form(client: TestClient, alice: UserView) -> None:
    csrf = sign_in(client, alice.email)
    bad = client.post(
        "/contacts", data={"emails": "not-an-address", "name": "Zed", "csrf_token": csrf}
    )
    assert bad.status_code == 422
    assert "not an email address" in bad.text and 'value="Zed"' in bad.text
    free = client.post(
        "/companies", data={"name": "Gmail Inc", "domains": "gmail.com", "csrf_token": csrf}
    )
    assert free.status_code == 422 and "free-mail domain" in free.text
    deal = client.post("/deals", data={"title": "X", "amount": "lots", "csrf_token": csrf})
    assert deal.status_code == 422 and "not an amount" in deal.text


def test_company_and_deal_pages(client: TestClient, alice: UserView, mail: dict[str, int]) -> None:
    csrf = sign_in(client, alice.email)
    company = _created_id(
        client.post(
            "/companies",
            data={"name": "Acme", "domains": "acme.test", "csrf_token": csrf},
            follow_redirects=False,
        ),
        "companies",
    )
    page = client.get(f"/companies/{company}").text
    assert "acme.test" in page
    assert page.count('class="tl-subject"') == 3  # proposal, reply and invoice
    assert "Invoice 42 for March" in page
    client.post(
        "/contacts",
        data={"emails": "tom@acme.test", "name": "Tom", "company": "Acme", "csrf_token": csrf},
    )
    deal = _created_id(
        client.post(
            "/deals",
            data={
                "title": "Renewal 2024",
                "stage": "proposal",
                "amount": "12,000",
                "company": "Acme",
                "contacts": "tom@acme.test",
                "csrf_token": csrf,
            },
            follow_redirects=False,
        ),
        "deals",
    )
    deal_page = client.get(f"/deals/{deal}").text
    assert "Renewal 2024" in deal_page and "12,000.00" in deal_page and "Tom" in deal_page
    assert "Invoice 42 for March" in deal_page
    assert "Renewal 2024" in client.get("/deals").text
    assert "Renewal 2024" in client.get(f"/companies/{company}").text
    tom = client.get("/contacts?q=tom").text
    tom_id = re.search(r'href="/contacts/(\d+)"', tom)
    assert tom_id and "Renewal 2024" in client.get(f"/contacts/{tom_id.group(1)}").text


def test_another_workspaces_records_are_not_found(
    app: FastAPI, alice: UserView, bob: UserView, mail: dict[str, int]
) -> None:
    with TestClient(app) as a:
        csrf = sign_in(a, alice.email)
        contact = _created_id(
            a.post(
                "/contacts",
                data={"emails": "jane@acme.test", "csrf_token": csrf},
                follow_redirects=False,
            ),
            "contacts",
        )
        company = _created_id(
            a.post(
                "/companies",
                data={"name": "Acme", "domains": "acme.test", "csrf_token": csrf},
                follow_redirects=False,
            ),
            "companies",
        )
        deal = _created_id(
            a.post("/deals", data={"title": "Deal", "csrf_token": csrf}, follow_redirects=False),
            "deals",
        )
        a.post(
            "/webhooks",
            data={
                "url": "https://hooks.test/x",
                "secret": "s",
                "events": "message.matched",
                "csrf_token": csrf,
            },
        )
    with TestClient(app) as b:
        sign_in(b, bob.email)
        for url in (
            f"/contacts/{contact}",
            f"/companies/{company}",
            f"/deals/{deal}",
            "/webhooks/1",
        ):
            assert b.get(url).status_code == 404, url
        assert "jane@acme.test" not in b.get("/contacts").text
        assert ">Acme</a>" not in b.get("/companies").text


def test_unmatched_queue_create_contact_and_ignore(
    client: TestClient, alice: UserView, mail: dict[str, int]
) -> None:
    csrf = sign_in(client, alice.email)
    queue = client.get("/unmatched").text
    for sender in ("jane@acme.test", "tom@acme.test", "news@shop.test"):
        assert f'id="sender-{sender}"' in queue
    assert "Quarterly pricing proposal" in queue  # a sample subject
    # htmx: the queue comes back re-rendered, without Jane
    made = client.post(
        "/unmatched/contact",
        data={"email": "jane@acme.test", "name": "Jane Doe", "csrf_token": csrf},
        headers={"HX-Request": "true"},
    )
    assert made.status_code == 200
    assert 'id="sender-jane@acme.test"' not in made.text
    assert "Contact created for <strong>jane@acme.test</strong>" in made.text
    # a plain form post: ignore a whole domain, redirected back to the queue
    ignored = client.post(
        "/unmatched/ignore",
        data={"email": "news@shop.test", "scope": "domain", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert ignored.status_code == 303
    after = client.get(ignored.headers["location"]).text
    assert "Everyone at <strong>shop.test</strong> is ignored" in after
    assert 'id="sender-news@shop.test"' not in after
    assert 'id="sender-tom@acme.test"' in after
    assert "domain:shop.test" in client.get("/rules").text
    assert "Ignored" in client.get(f"/messages/{mail['news']}").text
    assert ">Jane Doe</a>" in client.get("/contacts").text


def many_senders(n: int) -> list[Mail]:
    """Mail from ``n`` senders: sender k wrote k messages, so the busiest is sender n."""
    return [
        Mail(f"m{k}-{i}", f"sender{k:02d}@firm{k:02d}.test", f"note {i} from {k}", "hi",
             datetime(2024, 1, 1, 9, i, tzinfo=UTC))
        for k in range(1, n + 1)
        for i in range(k)
    ]  # fmt: skip


def test_the_unmatched_queue_is_paged(
    app: FastAPI, client: TestClient, alice: UserView, tmp_path: Path
) -> None:
    RuleService(app.state.mailmatch.db, workspace_id=alice.workspace_id).add_rule(
        "address", "alice@example.org"
    )
    store_mail(app, alice, many_senders(30), tmp_path)
    csrf = sign_in(client, alice.email)
    first = client.get("/unmatched").text
    assert first.count('class="queue-item"') == 25
    assert first.index('id="sender-sender30@firm30.test"') < first.index("sender29@firm29.test")
    assert 'id="sender-sender05@firm05.test"' not in first
    assert "1–25 of 30" in first
    assert 'href="/unmatched?q=&amp;offset=25">Next' in first
    second = client.get("/unmatched?offset=25").text
    assert second.count('class="queue-item"') == 5 and "26–30 of 30" in second
    assert 'id="sender-sender01@firm01.test"' in second
    # acting on page 2 keeps page 2
    assert 'hx-post="/unmatched/ignore?offset=25"' in second
    done = client.post(
        "/unmatched/ignore?offset=25",
        data={"email": "sender01@firm01.test", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert "offset=25" in done.headers["location"]
    after = client.get(done.headers["location"]).text
    assert "26–29 of 29" in after and 'id="sender-sender01@firm01.test"' not in after


def test_the_unmatched_api_is_paged(
    app: FastAPI, client: TestClient, alice: UserView, tmp_path: Path
) -> None:
    store_mail(app, alice, many_senders(12), tmp_path)
    headers = bearer(app, alice)
    first = client.get("/api/v1/unmatched?limit=5", headers=headers)
    assert first.headers["X-Total-Count"] == "12"
    assert [s["messages"] for s in first.json()] == [12, 11, 10, 9, 8]
    rest = client.get("/api/v1/unmatched?limit=5&offset=10", headers=headers).json()
    assert [s["sender"] for s in rest] == ["sender02@firm02.test", "sender01@firm01.test"]


def test_ignoring_a_free_mail_domain_is_refused(client: TestClient, alice: UserView) -> None:
    csrf = sign_in(client, alice.email)
    answer = client.post(
        "/unmatched/ignore",
        data={"email": "someone@gmail.com", "scope": "domain", "csrf_token": csrf},
    )
    assert answer.status_code == 422 and "free-mail domain" in answer.text
    assert "gmail.com" not in client.get("/rules").text.split("Your rules")[1].split("Built in")[0]


def test_rules_add_and_remove(
    app: FastAPI, client: TestClient, alice: UserView, mail: dict[str, int]
) -> None:
    csrf = sign_in(client, alice.email)
    added = client.post(
        "/rules",
        data={"kind": "pattern", "value": "news@*", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert added.headers["location"] == "/rules?done=added&n=1"
    page = client.get("/rules").text
    assert "pattern:news@*" in page
    rules = RuleService(app.state.mailmatch.db, workspace_id=alice.workspace_id).rules()
    rule_id = next(r["id"] for r in rules if r["name"] == "pattern:news@*")
    assert f'action="/rules/{rule_id}/delete"' in page
    removed = client.post(
        f"/rules/{rule_id}/delete", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert removed.headers["location"] == "/rules?done=removed&n=1"
    assert "pattern:news@*" not in client.get("/rules").text
    bad = client.post("/rules", data={"kind": "domain", "value": "nodots", "csrf_token": csrf})
    assert bad.status_code == 422 and "not a domain" in bad.text


def test_webhooks_page(client: TestClient, alice: UserView) -> None:
    csrf = sign_in(client, alice.email)
    added = client.post(
        "/webhooks",
        data={
            "url": "https://hooks.test/in",
            "secret": "s3cret",
            "events": ["message.matched"],
            "csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert added.headers["location"] == "/webhooks?added=1"
    page = client.get("/webhooks").text
    assert "https://hooks.test/in" in page and "s3cret" not in page
    hook = re.search(r'href="/webhooks/(\d+)"', page)
    assert hook and "No deliveries yet" in client.get(f"/webhooks/{hook.group(1)}").text
    none = client.post(
        "/webhooks", data={"url": "https://x.test", "secret": "s", "csrf_token": csrf}
    )
    assert none.status_code == 422 and "at least one event" in none.text


def test_api_tokens_page(client: TestClient, alice: UserView) -> None:
    csrf = sign_in(client, alice.email)
    made = client.post("/settings/tokens", data={"name": "crm-sync", "csrf_token": csrf})
    token = re.search(r'id="new-token">(mm_[^<]+)<', made.text)
    assert token
    assert (
        f'curl -H "Authorization: Bearer {token.group(1)}" http://testserver/api/v1/' in made.text
    )
    page = client.get("/settings").text
    assert "crm-sync" in page and token.group(1) not in page  # shown once
    with TestClient(client.app) as script:
        me = script.get("/api/v1/me", headers={"Authorization": f"Bearer {token.group(1)}"})
        assert me.status_code == 200
        token_id = re.search(r'action="/settings/tokens/(\d+)/revoke"', page)
        assert token_id
        client.post(f"/settings/tokens/{token_id.group(1)}/revoke", data={"csrf_token": csrf})
        gone = script.get("/api/v1/me", headers={"Authorization": f"Bearer {token.group(1)}"})
        assert gone.status_code == 401


def test_contact_page_shows_matched_mail_browser(
    screenshots: Path,  # first: resolved before mailmatch_env clears MAILMATCH_SCREENSHOTS
    app: FastAPI,
    alice: UserView,
    mail: dict[str, int],
    live_server: LiveServer,
    page: Any,
    phone: Any,
) -> None:
    url = live_server.url
    browser_sign_in(page, url, alice.email)
    page.goto(f"{url}/unmatched")
    page.screenshot(path=str(screenshots / "unmatched-laptop.png"), full_page=True)
    row = page.locator('[id="sender-jane@acme.test"]')
    row.get_by_text("Create contact").click()
    row.locator('input[name="name"]').fill("Jane Doe")
    row.locator('input[name="company"]').fill("Acme")
    row.locator('button[type="submit"]').first.click()
    page.get_by_text("Contact created for").wait_for()
    assert page.locator('[id="sender-jane@acme.test"]').count() == 0
    page.get_by_role("link", name="open").click()
    page.wait_for_url(re.compile(r".*/contacts/\d+$"))
    timeline = page.locator(".timeline li")
    assert timeline.count() == 2
    assert "Re: Quarterly pricing proposal" in timeline.nth(0).inner_text()
    reasons = page.locator(".address-head .reason")
    assert reasons.count() == 1
    assert reasons.inner_text() == "jane@acme.test belongs to contact Jane Doe"
    assert timeline.nth(1).locator(".role-tag").inner_text() == "From"
    page.screenshot(path=str(screenshots / "contact-laptop.png"), full_page=True)
    contact_url = page.url

    timeline.nth(1).locator("a.tl-subject").click()
    page.wait_for_url(re.compile(rf".*/messages/{mail['proposal']}$"))
    assert page.locator(".link-list .reason").first.inner_text()
    page.screenshot(path=str(screenshots / "message-laptop.png"), full_page=True)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download .eml").click()
    saved = Path(download.value.path())
    assert saved.read_bytes().startswith(b"From: Jane Doe <jane@acme.test>")
    assert download.value.suggested_filename == f"message-{mail['proposal']}.eml"

    page.goto(f"{url}/messages")
    page.fill("#q", "pricing")
    expect(page.locator("#results .msg-list li")).to_have_count(2)
    assert "q=pricing" in page.url
    page.goto(f"{url}/messages")
    page.screenshot(path=str(screenshots / "messages-laptop.png"), full_page=True)

    browser_sign_in(phone, url, alice.email)
    for name, target in (
        ("messages", "/messages"),
        ("message", f"/messages/{mail['proposal']}"),
        ("contact", contact_url.removeprefix(url)),
        ("unmatched", "/unmatched"),
    ):
        phone.goto(f"{url}{target}")
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{name} overflows the phone width: {width}px"
        phone.screenshot(path=str(screenshots / f"{name}-phone.png"), full_page=True)


def test_contacts_upload_and_edit_browser(
    screenshots: Path,  # first: resolved before mailmatch_env clears MAILMATCH_SCREENSHOTS
    app: FastAPI,
    alice: UserView,
    mail: dict[str, int],
    live_server: LiveServer,
    page: Any,
    phone: Any,
    tmp_path: Path,
) -> None:
    url = live_server.url
    sheet = tmp_path / "hubspot-export.csv"
    sheet.write_text(
        "First Name,Last Name,Email,Company Name,Favourite Colour\n"
        "Jane,Doe,jane@acme.test,Acme,blue\n"
        "Nobody,Here,,,green\n"
        "Tom,Lane,tom@acme.test,Acme,red\n",
        encoding="utf-8",
    )
    browser_sign_in(page, url, alice.email)
    page.goto(f"{url}/contacts")
    page.screenshot(path=str(screenshots / "contacts-empty-laptop.png"), full_page=True)
    page.set_input_files("#import-file", str(sheet))
    page.get_by_role("button", name="Upload and import").click()
    summary = page.locator("#import-summary")
    expect(summary).to_contain_text("2 contacts created")
    expect(summary).to_contain_text("3 messages re-matched")
    assert page.locator("#used-columns tbody tr").count() == 4
    expect(page.locator("#ignored-columns")).to_contain_text("Favourite Colour")
    expect(page.locator("#skipped")).to_have_text("row 3: no email address")
    page.screenshot(path=str(screenshots / "contacts-upload-laptop.png"), full_page=True)

    page.get_by_role("link", name="See the contacts").click()
    page.wait_for_url(re.compile(r".*/contacts$"))
    expect(page.get_by_role("link", name="Jane Doe")).to_be_visible()
    page.screenshot(path=str(screenshots / "contacts-laptop.png"), full_page=True)

    page.get_by_role("link", name="Tom Lane").click()
    page.get_by_role("link", name="Edit", exact=True).click()
    page.fill("#c-title", "Accounts")
    page.get_by_role("button", name="Save contact").click()
    expect(page.locator(".notice.ok")).to_have_text("Contact saved. 1 message re-matched.")
    page.screenshot(path=str(screenshots / "contact-edited-laptop.png"), full_page=True)
    page.get_by_role("link", name="Delete", exact=True).click()
    expect(page.get_by_role("heading", name="Delete Tom Lane?")).to_be_visible()
    page.screenshot(path=str(screenshots / "contact-delete-laptop.png"), full_page=True)
    page.get_by_role("button", name="Delete contact").click()
    expect(page.locator(".notice.ok")).to_contain_text("Deleted contact Tom Lane")
    assert page.get_by_role("link", name="Tom Lane").count() == 0

    browser_sign_in(phone, url, alice.email)
    phone.goto(f"{url}/contacts/import")
    phone.set_input_files("#import-file", str(sheet))
    phone.get_by_role("button", name="Upload and import").click()
    expect(phone.locator("#import-summary")).to_contain_text("1 contact created, 1 updated")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the import report overflows the phone width: {width}px"
    phone.screenshot(path=str(screenshots / "contacts-upload-phone.png"), full_page=True)
    for name, target in (("contacts", "/contacts"), ("unmatched", "/unmatched")):
        phone.goto(f"{url}{target}")
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{name} overflows the phone width: {width}px"
        phone.screenshot(path=str(screenshots / f"{name}-list-phone.png"), full_page=True)
    phone.goto(f"{url}/contacts")
    phone.get_by_role("link", name="Jane Doe").click()
    phone.get_by_role("link", name="Edit", exact=True).click()
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the edit form overflows the phone width: {width}px"
    phone.screenshot(path=str(screenshots / "contact-edit-phone.png"), full_page=True)
