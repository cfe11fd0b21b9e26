"""The records, unmatched, rules and webhooks API: create, read, scope and CSRF."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from mailmatch.users.service import UserView
from tests.web.conftest import bearer, sign_in
from tests.web.test_messages_pages import ALICE_MAIL, BOB_MAIL, store_mail

API = "/api/v1"
ROUTES = [
    ("GET", "/contacts"), ("POST", "/contacts"), ("GET", "/contacts/1"),
    ("GET", "/companies"), ("POST", "/companies"), ("GET", "/companies/1"),
    ("GET", "/deals"), ("POST", "/deals"), ("GET", "/deals/1"),
    ("GET", "/unmatched"), ("GET", "/rules"), ("POST", "/rules"), ("DELETE", "/rules/1"),
    ("GET", "/webhooks"), ("POST", "/webhooks"), ("GET", "/webhooks/1/deliveries"),
]  # fmt: skip


@pytest.fixture
def mail(app: FastAPI, alice: UserView, bob: UserView, tmp_path: Path) -> dict[str, int]:
    return store_mail(app, alice, ALICE_MAIL, tmp_path) | store_mail(app, bob, BOB_MAIL, tmp_path)


@pytest.fixture
def as_alice(app: FastAPI, alice: UserView) -> dict[str, str]:
    return bearer(app, alice)


@pytest.fixture
def as_bob(app: FastAPI, bob: UserView) -> dict[str, str]:
    return bearer(app, bob)


def test_anonymous_callers_are_refused(client: TestClient) -> None:
    for method, path in ROUTES:
        answer = client.request(method, f"{API}{path}", json={})
        assert answer.status_code == 401, (method, path)


def test_contact_created_and_shown_with_its_mail(
    client: TestClient, mail: dict[str, int], as_alice: dict[str, str]
) -> None:
    made = client.post(
        f"{API}/contacts",
        json={"emails": ["jane@acme.test"], "name": "Jane Doe", "company": "Acme"},
        headers=as_alice,
    )
    assert made.status_code == 201, made.text
    assert made.json()["rematched"] == 2
    contact = client.get(f"{API}/contacts/{made.json()['id']}", headers=as_alice).json()
    assert contact["emails"] == ["jane@acme.test"]
    assert contact["company"]["name"] == "Acme"
    assert contact["messages"] == 2
    assert [t["message_id"] for t in contact["timeline"]] == [mail["reply"], mail["proposal"]]
    assert "jane@acme.test" in contact["timeline"][1]["reason"]
    listed = client.get(f"{API}/contacts?q=jane", headers=as_alice).json()
    assert listed["total"] == 1 and listed["items"][0]["name"] == "Jane Doe"
    assert client.get(f"{API}/contacts?q=zed", headers=as_alice).json()["total"] == 0


def test_companies_and_deals(
    client: TestClient, mail: dict[str, int], as_alice: dict[str, str]
) -> None:
    company = client.post(
        f"{API}/companies", json={"name": "Acme", "domains": ["acme.test"]}, headers=as_alice
    )
    assert company.status_code == 201 and company.json()["rematched"] == 3
    client.post(
        f"{API}/contacts",
        json={"emails": ["tom@acme.test"], "name": "Tom", "company": "Acme"},
        headers=as_alice,
    )
    deal = client.post(
        f"{API}/deals",
        json={
            "title": "Renewal",
            "stage": "proposal",
            "amount": 12000,
            "company": "Acme",
            "contacts": ["tom@acme.test"],
        },
        headers=as_alice,
    )
    assert deal.status_code == 201, deal.text
    shown = client.get(f"{API}/deals/{deal.json()['id']}", headers=as_alice).json()
    assert shown["company"]["name"] == "Acme" and shown["amount"] == 12000
    assert [p["name"] for p in shown["people"]] == ["Tom"]
    assert "Invoice 42 for March" in [t["subject"] for t in shown["timeline"]]
    acme = client.get(f"{API}/companies/{company.json()['id']}", headers=as_alice).json()
    assert acme["domains"] == ["acme.test"] and acme["messages"] == 3
    assert [d["title"] for d in acme["deals"]] == ["Renewal"]
    assert client.get(f"{API}/deals", headers=as_alice).json()["total"] == 1
    free = client.post(
        f"{API}/companies", json={"name": "G", "domains": ["gmail.com"]}, headers=as_alice
    )
    assert free.status_code == 422
    unknown = client.post(f"{API}/deals", json={"title": "X", "company": "Nope"}, headers=as_alice)
    assert unknown.status_code == 404
    huge = client.post(f"{API}/deals", json={"title": "X", "amount": 1e300}, headers=as_alice)
    assert huge.status_code == 422


def test_unmatched_rules_and_rematching(
    client: TestClient, mail: dict[str, int], as_alice: dict[str, str]
) -> None:
    senders = client.get(f"{API}/unmatched", headers=as_alice).json()
    jane = next(s for s in senders if s["sender"] == "jane@acme.test")
    assert jane["messages"] >= 1 and jane["sample_subject"]
    rule = client.post(
        f"{API}/rules", json={"kind": "domain", "value": "shop.test"}, headers=as_alice
    )
    assert rule.status_code == 201 and rule.json()["rematched"] == 1
    assert "news@shop.test" not in [
        s["sender"] for s in client.get(f"{API}/unmatched", headers=as_alice).json()
    ]
    names = [r["name"] for r in client.get(f"{API}/rules", headers=as_alice).json()]
    assert "domain:shop.test" in names
    again = client.post(
        f"{API}/rules", json={"kind": "domain", "value": "shop.test"}, headers=as_alice
    )
    assert again.status_code == 409
    bad_regex = client.post(
        f"{API}/rules", json={"kind": "pattern", "value": "re:(unclosed"}, headers=as_alice
    )
    assert bad_regex.status_code == 422
    removed = client.delete(f"{API}/rules/{rule.json()['id']}", headers=as_alice)
    assert removed.status_code == 200 and removed.json()["rematched"] == 1


def test_webhooks(client: TestClient, as_alice: dict[str, str]) -> None:
    made = client.post(
        f"{API}/webhooks",
        json={"url": "https://hooks.test/in", "secret": "s3cret", "events": ["message.matched"]},
        headers=as_alice,
    )
    assert made.status_code == 201, made.text
    hooks = client.get(f"{API}/webhooks", headers=as_alice).json()
    assert hooks[0]["url"] == "https://hooks.test/in" and "secret" not in hooks[0]
    log = client.get(f"{API}/webhooks/{made.json()['id']}/deliveries", headers=as_alice)
    assert log.status_code == 200 and log.json() == []
    wrong = client.post(
        f"{API}/webhooks",
        json={"url": "https://x.test/", "secret": "s", "events": ["message.deleted"]},
        headers=as_alice,
    )
    assert wrong.status_code == 422


def test_another_workspaces_objects_are_not_found(
    client: TestClient, mail: dict[str, int], as_alice: dict[str, str], as_bob: dict[str, str]
) -> None:
    contact = client.post(
        f"{API}/contacts", json={"emails": ["jane@acme.test"]}, headers=as_alice
    ).json()["id"]
    company = client.post(f"{API}/companies", json={"name": "Acme"}, headers=as_alice).json()["id"]
    deal = client.post(f"{API}/deals", json={"title": "D"}, headers=as_alice).json()["id"]
    rule = client.post(
        f"{API}/rules", json={"kind": "address", "value": "x@y.test"}, headers=as_alice
    ).json()["id"]
    hook = client.post(
        f"{API}/webhooks", json={"url": "https://h.test/", "secret": "s"}, headers=as_alice
    ).json()["id"]
    for method, url in (
        ("GET", f"/contacts/{contact}"),
        ("GET", f"/companies/{company}"),
        ("GET", f"/deals/{deal}"),
        ("DELETE", f"/rules/{rule}"),
        ("GET", f"/webhooks/{hook}/deliveries"),
    ):
        answer = client.request(method, f"{API}{url}", headers=as_bob)
        assert answer.status_code == 404, url
    assert client.get(f"{API}/contacts", headers=as_bob).json()["total"] == 0
    assert client.get(f"{API}/webhooks", headers=as_bob).json() == []
    assert "jane@acme.test" not in str(client.get(f"{API}/unmatched", headers=as_bob).json())
    # Bob's deal cannot take Alice's contact or company
    assert (
        client.post(
            f"{API}/deals", json={"title": "X", "company": "Acme"}, headers=as_bob
        ).status_code
        == 404
    )
    assert (
        client.post(
            f"{API}/deals", json={"title": "X", "contacts": ["jane@acme.test"]}, headers=as_bob
        ).status_code
        == 404
    )


def test_the_cookie_session_needs_the_csrf_header(client: TestClient, alice: UserView) -> None:
    csrf = sign_in(client, alice.email)
    body = {"emails": ["jane@acme.test"]}
    assert client.post(f"{API}/contacts", json=body).status_code == 403
    assert (
        client.post(f"{API}/contacts", json=body, headers={"X-CSRF-Token": "forged"}).status_code
        == 403
    )
    assert client.get(f"{API}/contacts").json()["total"] == 0
    made = client.post(f"{API}/contacts", json=body, headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201
    assert client.delete(f"{API}/rules/1").status_code == 403
