"""The messages API: list, search, filters, cursor paging, detail, raw; scoped to the caller."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from mailmatch.contacts.service import RecordService
from mailmatch.users.service import UserView
from tests.web.conftest import bearer
from tests.web.test_messages_pages import ALICE_MAIL, BOB_MAIL, Mail, build, store_mail

API = "/api/v1"


@pytest.fixture
def mail(app: FastAPI, alice: UserView, bob: UserView, tmp_path: Path) -> dict[str, int]:
    return store_mail(app, alice, ALICE_MAIL, tmp_path) | store_mail(app, bob, BOB_MAIL, tmp_path)


@pytest.fixture
def as_alice(app: FastAPI, alice: UserView) -> dict[str, str]:
    return bearer(app, alice)


def test_anonymous_callers_are_refused(client: TestClient, mail: dict[str, int]) -> None:
    for url in (
        f"{API}/messages",
        f"{API}/messages/{mail['proposal']}",
        f"{API}/messages/{mail['proposal']}/raw",
    ):
        answer = client.get(url)
        assert answer.status_code == 401, url
        assert answer.json()["error"]["code"] == "unauthorized"


def test_list_search_and_filters(
    client: TestClient, mail: dict[str, int], as_alice: dict[str, str]
) -> None:
    def subjects(**params: str) -> list[str]:
        answer = client.get(f"{API}/messages", params=params, headers=as_alice)
        assert answer.status_code == 200, answer.text
        return [m["subject"] for m in answer.json()["items"]]

    assert subjects() == [
        "Re: Quarterly pricing proposal",
        "Quarterly pricing proposal",
        "Weekly deals",
        "Invoice 42 for March",
    ]
    assert subjects(q="invoice") == ["Invoice 42 for March"]
    assert subjects(q="secret") == []
    assert subjects(sender="acme.test") == ["Quarterly pricing proposal", "Invoice 42 for March"]
    assert subjects(attachments="true") == ["Quarterly pricing proposal"]
    assert subjects(since="2024-03-06") == ["Re: Quarterly pricing proposal"]
    assert subjects(until="2024-02-28") == ["Invoice 42 for March"]
    assert subjects(status="matched") == []
    assert client.get(f"{API}/messages?status=bogus", headers=as_alice).status_code == 422
    assert client.get(f"{API}/messages?cursor=junk", headers=as_alice).status_code == 422
    assert client.get(f"{API}/messages?until=9999-12-31", headers=as_alice).status_code == 200


def test_matches_carry_names_and_reasons(
    app: FastAPI,
    client: TestClient,
    alice: UserView,
    mail: dict[str, int],
    as_alice: dict[str, str],
) -> None:
    RecordService(app.state.mailmatch.db, workspace_id=alice.workspace_id).add_contact(
        "jane@acme.test", "Jane Doe"
    )
    listed = client.get(f"{API}/messages?status=matched", headers=as_alice).json()["items"]
    assert [m["subject"] for m in listed] == [
        "Re: Quarterly pricing proposal",
        "Quarterly pricing proposal",
    ]
    match = listed[1]["matches"][0]
    assert match["record_type"] == "contact" and match["name"] == "Jane Doe"
    assert "jane@acme.test" in match["reason"]
    detail = client.get(f"{API}/messages/{mail['proposal']}", headers=as_alice).json()
    assert detail["status"] == "matched"
    assert detail["matches"] == listed[1]["matches"]
    assert detail["message_id"] == "proposal@example.org"
    assert detail["addresses"]["from"] == [{"name": "Jane Doe", "email": "jane@acme.test"}]
    assert detail["attachments"][0]["filename"] == "proposal.pdf"
    assert [t["id"] for t in detail["thread"]] == [mail["proposal"], mail["reply"]]
    assert "pricing for the renewal" in detail["body_text"]


def test_cursor_paging_visits_every_message_once(
    app: FastAPI, client: TestClient, alice: UserView, tmp_path: Path, as_alice: dict[str, str]
) -> None:
    same_day = datetime(2023, 5, 1, tzinfo=UTC)  # equal dates: the id breaks the tie
    many = [Mail(f"p{i}", f"P <p{i}@page.test>", f"Page {i}", "x", same_day) for i in range(7)]
    ids = store_mail(app, alice, many, tmp_path)
    seen: list[int] = []
    cursor: str | None = None
    while True:
        params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        page = client.get(f"{API}/messages", params=params, headers=as_alice).json()
        seen += [m["id"] for m in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(ids.values(), reverse=True)


def test_raw_is_the_exact_bytes(
    client: TestClient, mail: dict[str, int], as_alice: dict[str, str]
) -> None:
    raw = client.get(f"{API}/messages/{mail['reply']}/raw", headers=as_alice)
    assert raw.status_code == 200
    assert raw.headers["content-type"] == "message/rfc822"
    assert raw.headers["content-disposition"].startswith("attachment;")
    assert raw.content.rstrip(b"\n") == build(ALICE_MAIL[1]).rstrip(b"\n")


def test_another_workspaces_message_is_not_found(
    client: TestClient, mail: dict[str, int], as_alice: dict[str, str]
) -> None:
    for url in (f"{API}/messages/{mail['secret']}", f"{API}/messages/{mail['secret']}/raw"):
        answer = client.get(url, headers=as_alice)
        assert answer.status_code == 404, url
        assert answer.json()["error"]["code"] == "not_found"
    assert client.get(f"{API}/messages/{2**62}", headers=as_alice).status_code == 404
    assert client.get(f"{API}/messages/{2**63}", headers=as_alice).status_code == 422


def test_the_session_cookie_works_for_reading(
    client: TestClient, alice: UserView, mail: dict[str, int]
) -> None:
    from tests.web.conftest import sign_in

    sign_in(client, alice.email)
    answer = client.get(f"{API}/messages?q=pricing")
    assert answer.status_code == 200 and len(answer.json()["items"]) == 2


def test_an_attachment_downloads_by_its_id(
    app: FastAPI,
    client: TestClient,
    alice: UserView,
    bob: UserView,
    mail: dict[str, int],
    tmp_path: Path,
) -> None:
    from tests.web.test_messages_pages import BIG, EVIL_HTML, store_raw, with_attachments

    store_raw(app, alice, [with_attachments()], tmp_path, attachment_cap=100_000)
    auth = bearer(app, alice)
    listed = client.get(f"{API}/messages?q=attached", headers=auth).json()["items"]
    pk = listed[0]["id"]
    detail = client.get(f"{API}/messages/{pk}", headers=auth).json()
    files = {a["filename"]: a for a in detail["attachments"]}
    assert files["big.bin"]["stored"] is False and files["invoice.html"]["stored"] is True

    url = f"{API}/messages/{pk}/attachments"
    html = client.get(f"{url}/{files['invoice.html']['id']}", headers=auth)
    assert html.status_code == 200 and html.content == EVIL_HTML
    assert html.headers["content-type"] == "text/html"
    assert html.headers["content-disposition"] == 'attachment; filename="invoice.html"'
    assert html.headers["x-content-type-options"] == "nosniff"
    big = client.get(f"{url}/{files['big.bin']['id']}", headers=auth)
    assert big.status_code == 200 and big.content == BIG

    assert client.get(f"{url}/{files['big.bin']['id']}").status_code == 401
    as_bob = bearer(app, bob)
    refused = client.get(f"{url}/{files['big.bin']['id']}", headers=as_bob)
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "not_found"
    assert client.get(f"{url}/999999", headers=auth).status_code == 404
    elsewhere = f"{API}/messages/{mail['invoice']}/attachments/{files['big.bin']['id']}"
    assert client.get(elsewhere, headers=auth).status_code == 404  # not that message's
