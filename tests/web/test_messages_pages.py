"""The messages pages: list, search, filters, one message with its matches, raw download.

Mail is put into the store the way a file import does (``mailmatch.imports.files`` with the
user's workspace), then matched, so the pages show what a real import would leave.
"""

from __future__ import annotations

import mailbox
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from mailmatch.imports.files import import_file
from mailmatch.pipeline.runner import Pipeline
from mailmatch.store.messages import MessageStore
from mailmatch.store.models import Message
from mailmatch.users.service import UserView
from tests.web.conftest import csrf_of, sign_in


@dataclass(frozen=True)
class Mail:
    key: str
    sender: str
    subject: str
    body: str
    day: datetime
    to: str = "Alice <alice@example.org>"
    reply_to: str | None = None  # key of the message this one answers
    attachment: str | None = None
    html_only: bool = False


ALICE_MAIL = [
    Mail(
        "proposal",
        "Jane Doe <jane@acme.test>",
        "Quarterly pricing proposal",
        "Hello Alice,\n\nhere is the pricing for the renewal.\n\nJane",
        datetime(2024, 3, 5, 9, 30, tzinfo=UTC),
        attachment="proposal.pdf",
    ),
    Mail(
        "reply",
        "Alice <alice@example.org>",
        "Re: Quarterly pricing proposal",
        "Thanks Jane, looks good.",
        datetime(2024, 3, 6, 10, 0, tzinfo=UTC),
        to="Jane Doe <jane@acme.test>",
        reply_to="proposal",
    ),
    Mail(
        "invoice",
        "Tom Lane <tom@acme.test>",
        "Invoice 42 for March",
        "Please find the invoice attached.",
        datetime(2024, 2, 1, 8, 0, tzinfo=UTC),
    ),
    Mail(
        "news",
        "Shop News <news@shop.test>",
        "Weekly deals",
        '<p>Big <b>sale</b></p><script>alert("x")</script>',
        datetime(2024, 3, 1, 7, 0, tzinfo=UTC),
        html_only=True,
    ),
]
BOB_MAIL = [
    Mail(
        "secret",
        "Eve Spy <eve@spy.test>",
        "Bob's secret plans",
        "Top secret.",
        datetime(2024, 3, 7, 12, 0, tzinfo=UTC),
        to="Bob <bob@example.net>",
    ),
]


def build(mail: Mail, domain: str = "example.org") -> bytes:
    msg = EmailMessage()
    msg["From"] = mail.sender
    msg["To"] = mail.to
    msg["Subject"] = mail.subject
    msg["Date"] = format_datetime(mail.day)
    msg["Message-ID"] = f"<{mail.key}@{domain}>"
    if mail.reply_to:
        msg["In-Reply-To"] = f"<{mail.reply_to}@{domain}>"
        msg["References"] = f"<{mail.reply_to}@{domain}>"
    if mail.html_only:
        msg.set_content(mail.body, subtype="html")
    else:
        msg.set_content(mail.body)
    if mail.attachment:
        msg.add_attachment(
            b"%PDF-1.4 fake", maintype="application", subtype="pdf", filename=mail.attachment
        )
    return msg.as_bytes()


def store_mail(app: FastAPI, user: UserView, mails: list[Mail], folder: Path) -> dict[str, int]:
    """Import ``mails`` as an mbox into the user's workspace and match them; returns key -> id."""
    db = app.state.mailmatch.db
    path = folder / f"{user.id}.mbox"
    box = mailbox.mbox(path)
    for mail in mails:
        box.add(build(mail))
    box.close()
    store = MessageStore(db, workspace_id=user.workspace_id)
    result = import_file(store, path, pipeline=Pipeline(db, user.workspace_id))
    assert result.new == len(mails)
    with db.read() as conn:
        ids = dict(
            conn.execute(
                select(Message.message_id, Message.id).where(
                    Message.workspace_id == user.workspace_id
                )
            ).all()
        )
    return {m.key: ids[f"{m.key}@example.org"] for m in mails}


@pytest.fixture
def mail(app: FastAPI, alice: UserView, bob: UserView, tmp_path: Path) -> dict[str, int]:
    ids = store_mail(app, alice, ALICE_MAIL, tmp_path)
    ids |= store_mail(app, bob, BOB_MAIL, tmp_path)
    return ids


def subjects_in(html: str) -> list[str]:
    return re.findall(r'<span class="msg-subject">([^<]+)', html)


def test_the_list_is_newest_first_and_only_the_users_workspace(
    client: TestClient, alice: UserView, mail: dict[str, int]
) -> None:
    sign_in(client, alice.email)
    page = client.get("/messages")
    assert page.status_code == 200
    assert [s.strip() for s in subjects_in(page.text)] == [
        "Re: Quarterly pricing proposal",
        "Quarterly pricing proposal",
        "Weekly deals",
        "Invoice 42 for March",
    ]
    assert "secret plans" not in page.text
    assert 'class="active"' in page.text and 'href="/messages" class="active"' in page.text


def test_search_and_filters(client: TestClient, alice: UserView, mail: dict[str, int]) -> None:
    sign_in(client, alice.email)

    def found(query: str) -> list[str]:
        return [s.strip() for s in subjects_in(client.get(f"/messages?{query}").text)]

    assert found("q=invoice") == ["Invoice 42 for March"]
    assert found("q=renewal") == ["Quarterly pricing proposal"]  # a word of the body only
    assert found("q=secret") == []  # bob's mail is not searchable by alice
    assert found("sender=tom@acme.test") == ["Invoice 42 for March"]
    assert len(found("sender=acme.test")) == 2
    assert found("attachments=yes") == ["Quarterly pricing proposal"]
    assert found("since=2024-03-01&until=2024-03-05") == [
        "Quarterly pricing proposal",
        "Weekly deals",
    ]
    assert len(found("q=pricing&status=unmatched")) == 2
    assert found("q=pricing&status=matched") == []
    assert "No message matches" in client.get("/messages?q=zebra").text
    bad = client.get("/messages?since=yesterday")
    assert bad.status_code == 422 and "not a date" in bad.text


def test_message_view_shows_text_only_with_matches_thread_and_attachments(
    client: TestClient, alice: UserView, mail: dict[str, int]
) -> None:
    csrf = sign_in(client, alice.email)
    made = client.post(
        "/contacts",
        data={"name": "Jane Doe", "emails": "jane@acme.test", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert made.status_code == 303
    page = client.get(f"/messages/{mail['proposal']}").text
    assert "Quarterly pricing proposal" in page
    assert "&lt;proposal@example.org&gt;" not in page  # Message-ID shown bare
    assert "proposal@example.org" in page
    assert "proposal.pdf" in page
    assert "Jane Doe" in page and "jane@acme.test" in page
    assert f'href="/messages/{mail["reply"]}"' in page  # the thread
    assert "/contacts/" in page and "jane@acme.test" in page  # the match and its reason
    assert 'class="reason"' in page
    html_mail = client.get(f"/messages/{mail['news']}").text
    assert "<script>alert" not in html_mail
    assert "<b>sale</b>" not in html_mail


def test_raw_download_is_the_exact_stored_bytes(
    app: FastAPI, client: TestClient, alice: UserView, mail: dict[str, int]
) -> None:
    sign_in(client, alice.email)
    raw = client.get(f"/messages/{mail['invoice']}/raw")
    assert raw.status_code == 200
    assert raw.headers["content-type"] == "message/rfc822"
    assert raw.headers["content-disposition"] == (
        f'attachment; filename="message-{mail["invoice"]}.eml"'
    )
    store = MessageStore(app.state.mailmatch.db, workspace_id=alice.workspace_id)
    assert raw.content == store.raw(mail["invoice"])
    assert raw.content.rstrip(b"\n") == build(ALICE_MAIL[2]).rstrip(b"\n")


def test_another_workspaces_message_is_not_found(
    client: TestClient, alice: UserView, mail: dict[str, int]
) -> None:
    sign_in(client, alice.email)
    assert client.get(f"/messages/{mail['secret']}").status_code == 404
    assert client.get(f"/messages/{mail['secret']}/raw").status_code == 404
    assert client.get("/messages/999999999").status_code == 404
    assert client.get(f"/messages/{2**63}").status_code in (404, 422)


def test_anonymous_visitors_are_sent_to_sign_in(client: TestClient, mail: dict[str, int]) -> None:
    for url in ("/messages", f"/messages/{mail['proposal']}", f"/messages/{mail['proposal']}/raw"):
        answer = client.get(url, follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/login?next=")


def test_the_list_pages_by_cursor(
    app: FastAPI, client: TestClient, alice: UserView, tmp_path: Path
) -> None:
    many = [
        Mail(
            f"m{i}",
            f"Sender {i} <s{i}@many.test>",
            f"Note {i:03d}",
            "text",
            datetime(2023, 1, 1, tzinfo=UTC).replace(day=1 + i % 28, month=1 + i // 28),
        )
        for i in range(60)
    ]
    store_mail(app, alice, many, tmp_path)
    sign_in(client, alice.email)
    first = client.get("/messages")
    assert len(subjects_in(first.text)) == 50
    older = re.search(r'href="(/messages\?[^"]*cursor=[^"]+)"', first.text)
    assert older
    second = client.get(older.group(1).replace("&amp;", "&"))
    rest = subjects_in(second.text)
    assert len(rest) == 10
    assert not set(rest) & set(subjects_in(first.text))
    assert "Newest" in second.text


def store_raw(app: FastAPI, user: UserView, raws: list[bytes], folder: Path, **kw: int) -> None:
    """Import raw messages as an mbox (``attachment_cap`` as ``MAILMATCH_ATTACHMENT_MAX_MB``
    would set it) and match them."""
    db = app.state.mailmatch.db
    path = folder / f"raw-{user.id}.mbox"
    box = mailbox.mbox(path)
    for raw in raws:
        box.add(raw)
    box.close()
    store = MessageStore(db, workspace_id=user.workspace_id, **kw)
    assert import_file(store, path, pipeline=Pipeline(db, user.workspace_id)).new == len(raws)


def matches_card(html: str) -> str:
    found = re.search(r"<h2>Matches</h2>(.*?)</section>", html, re.S)
    assert found, "the page has no Matches card"
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())


def test_the_matches_card_says_each_state_in_words(
    app: FastAPI, client: TestClient, alice: UserView, mail: dict[str, int], tmp_path: Path
) -> None:
    """It used to print "No contact, company or deal matches no record for ..."."""
    from mailmatch.contacts.rules import RuleService

    RuleService(app.state.mailmatch.db, workspace_id=alice.workspace_id).add_rule(
        "domain", "shop.test"
    )
    RuleService(app.state.mailmatch.db, workspace_id=alice.workspace_id).add_rule(
        "address", "alice@example.org"
    )
    late = Mail("late", "Ann <ann@late.test>", "Not matched yet", "hi", datetime(2024, 3, 9))
    store = MessageStore(app.state.mailmatch.db, workspace_id=alice.workspace_id)
    import_file(store, _mbox(tmp_path, [build(late)]))  # stored, no matching after it
    sign_in(client, alice.email)

    invoice = matches_card(client.get(f"/messages/{mail['invoice']}").text)
    assert invoice.startswith("No contact, company or deal has the address of this message:")
    assert "tom@acme.test" in invoice and "no record" not in invoice
    assert "Handle in the unmatched queue" in invoice
    page = client.get(f"/messages/{mail['invoice']}").text
    assert 'href="/unmatched#sender-tom%40acme.test"' in page

    news = matches_card(client.get(f"/messages/{mail['news']}").text)
    assert news.startswith("Ignored, so it is linked to no record:")
    assert "domain of news@shop.test is ignored (rule domain:shop.test)" in news

    with app.state.mailmatch.db.read() as conn:
        late_id = conn.execute(
            select(Message.id).where(Message.message_id == "late@example.org")
        ).scalar_one()
    pending = matches_card(client.get(f"/messages/{late_id}").text)
    assert pending == "Not matched yet: matching runs right after each import batch."


def _mbox(folder: Path, raws: list[bytes]) -> Path:
    path = folder / "late.mbox"
    box = mailbox.mbox(path)
    for raw in raws:
        box.add(raw)
    box.close()
    return path


PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40  # binary, ~10 KB
EVIL_HTML = b"<html><script>document.title='owned'</script>hello</html>"
EVIL_SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'
BIG = b"BIG" + b"\x00\x01\x02" * 200_000  # 600 KB: over a 0.1 MB cap, kept in the raw only


def with_attachments() -> bytes:
    msg = EmailMessage()
    msg["From"] = "Jane Doe <jane@acme.test>"
    msg["To"] = "alice@example.org"
    msg["Subject"] = "Files for you"
    msg["Date"] = format_datetime(datetime(2024, 4, 2, 9, tzinfo=UTC))
    msg["Message-ID"] = "<files@example.org>"
    msg.set_content("See attached.")
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="Rechnung März.pdf")
    msg.add_attachment(EVIL_HTML, maintype="text", subtype="html", filename="invoice.html")
    msg.add_attachment(EVIL_SVG, maintype="image", subtype="svg+xml", filename='../../"x".svg')
    msg.add_attachment(BIG, maintype="application", subtype="octet-stream", filename="big.bin")
    msg.add_attachment(b"no name", maintype="application", subtype="pdf")
    return msg.as_bytes()


def test_each_attachment_downloads_on_its_own(
    app: FastAPI, client: TestClient, alice: UserView, bob: UserView, tmp_path: Path
) -> None:
    store_raw(app, alice, [with_attachments()], tmp_path, attachment_cap=100_000)
    sign_in(client, alice.email)
    with app.state.mailmatch.db.read() as conn:
        pk = conn.execute(
            select(Message.id).where(Message.message_id == "files@example.org")
        ).scalar_one()
    page = client.get(f"/messages/{pk}").text
    links = re.findall(rf'href="(/messages/{pk}/attachments/\d+)" download>', page)
    assert len(links) == 5, page

    got = [client.get(link) for link in links]
    assert all(r.status_code == 200 for r in got)
    assert [r.content for r in got] == [PDF, EVIL_HTML, EVIL_SVG, BIG, b"no name"]
    assert [r.headers["content-type"] for r in got] == [
        "application/pdf",
        "text/html",
        "image/svg+xml",
        "application/octet-stream",
        "application/pdf",
    ]
    names = [r.headers["content-disposition"] for r in got]
    assert names[0] == (
        "attachment; filename=\"Rechnung Marz.pdf\"; filename*=UTF-8''Rechnung%20M%C3%A4rz.pdf"
    )
    assert names[1] == 'attachment; filename="invoice.html"'  # a download, never rendered
    assert names[2] == "attachment; filename=\"_x_.svg\"; filename*=UTF-8''%22x%22.svg"
    assert names[3] == 'attachment; filename="big.bin"'  # extracted from the raw message
    assert re.fullmatch(r'attachment; filename="attachment-\d+\.pdf"', names[4])
    for r in got:
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in r.headers["content-security-policy"]
    assert "kept inside the message, extracted on download" in page  # the one over the cap

    client.post("/logout", data={"csrf_token": csrf_of(page)})
    sign_in(client, bob.email)
    assert client.get(links[0]).status_code == 404  # another workspace's attachment


def test_message_page_browser(
    screenshots: Path,  # first: resolved before mailmatch_env clears MAILMATCH_SCREENSHOTS
    app: FastAPI,
    alice: UserView,
    live_server: Any,
    page: Any,
    phone: Any,
    tmp_path: Path,
) -> None:
    """A message with attachments (each with its own download) and one that matched nothing,
    on a laptop and on a phone."""
    from tests.web.conftest import PHONE, browser_sign_in

    store_raw(app, alice, [with_attachments()], tmp_path, attachment_cap=100_000)
    store_mail(app, alice, ALICE_MAIL, tmp_path)
    with app.state.mailmatch.db.read() as conn:
        ids = dict(conn.execute(select(Message.message_id, Message.id)).all())
    files, invoice = ids["files@example.org"], ids["invoice@example.org"]

    browser_sign_in(page, live_server.url, alice.email)
    page.goto(f"{live_server.url}/messages/{files}")
    assert page.locator(".file-row").count() == 5
    with page.expect_download() as download:
        page.locator(".file-row", has_text="invoice.html").locator(".file-download").click()
    assert download.value.suggested_filename == "invoice.html"
    assert page.url.endswith(f"/messages/{files}")  # downloaded, not opened
    page.screenshot(path=str(screenshots / "message-attachments-laptop.png"), full_page=True)
    page.goto(f"{live_server.url}/messages/{invoice}")
    assert "No contact, company or deal has" in page.locator(".match-why").inner_text()
    page.screenshot(path=str(screenshots / "message-unmatched-laptop.png"), full_page=True)

    browser_sign_in(phone, live_server.url, alice.email)
    for name, pk in (("message-attachments", files), ("message-unmatched", invoice)):
        phone.goto(f"{live_server.url}/messages/{pk}")
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{name} overflows a phone: {width}px"
        phone.screenshot(path=str(screenshots / f"{name}-phone.png"), full_page=True)
