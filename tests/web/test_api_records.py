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
    ("PATCH", "/contacts/1"), ("DELETE", "/contacts/1"), ("POST", "/contacts/import"),
    ("PATCH", "/companies/1"), ("DELETE", "/companies/1"),
    ("PATCH", "/deals/1"), ("DELETE", "/deals/1"),
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


def test_records_edited_and_removed_take_their_mail_along(
    client: TestClient, mail: dict[str, int], as_alice: dict[str, str], as_bob: dict[str, str]
) -> None:
    jane = client.post(
        f"{API}/contacts", json={"emails": ["jane@acme.test"], "name": "Jane"}, headers=as_alice
    ).json()["id"]
    moved = client.patch(
        f"{API}/contacts/{jane}",
        json={"emails": ["tom@acme.test"], "company": "Acme", "name": "Jane Lane"},
        headers=as_alice,
    )
    assert moved.status_code == 200, moved.text
    assert moved.json() == {"id": jane, "rematched": 3}  # her two messages and Tom's invoice
    shown = client.get(f"{API}/contacts/{jane}", headers=as_alice).json()
    assert shown["emails"] == ["tom@acme.test"] and shown["company"]["name"] == "Acme"
    assert [t["message_id"] for t in shown["timeline"]] == [mail["invoice"]]
    assert shown["timeline"][0]["reason"] == (
        "From address tom@acme.test belongs to contact Jane Lane"
    )
    senders = [s["sender"] for s in client.get(f"{API}/unmatched", headers=as_alice).json()]
    assert "jane@acme.test" in senders and "tom@acme.test" not in senders
    cleared = client.patch(f"{API}/contacts/{jane}", json={"company": None}, headers=as_alice)
    assert cleared.status_code == 200
    assert client.get(f"{API}/contacts/{jane}", headers=as_alice).json()["company"] is None
    assert (
        client.patch(f"{API}/contacts/{jane}", json={"emails": []}, headers=as_alice).status_code
        == 422
    )

    acme = client.post(
        f"{API}/companies", json={"name": "Acme", "domains": ["acme.test"]}, headers=as_alice
    ).json()["id"]
    deal = client.post(f"{API}/deals", json={"title": "Renewal"}, headers=as_alice).json()["id"]
    edited = client.patch(
        f"{API}/deals/{deal}",
        json={"company": "Acme", "stage": "proposal", "amount": None},
        headers=as_alice,
    )
    assert edited.status_code == 200 and edited.json()["rematched"] == 3
    timeline = client.get(f"{API}/deals/{deal}", headers=as_alice).json()["timeline"]
    assert {t["message_id"] for t in timeline} == {mail["proposal"], mail["reply"], mail["invoice"]}
    assert client.patch(
        f"{API}/companies/{acme}", json={"name": "Acme Ltd"}, headers=as_alice
    ).json() == {"id": acme, "rematched": 3}
    for who in (as_bob,):  # another workspace's records do not exist for Bob
        assert client.patch(f"{API}/companies/{acme}", json={}, headers=who).status_code == 404
        assert client.delete(f"{API}/contacts/{jane}", headers=who).status_code == 404

    removed = client.delete(f"{API}/companies/{acme}", headers=as_alice)
    assert removed.json() == {"id": acme, "rematched": 3}
    deal_after = client.get(f"{API}/deals/{deal}", headers=as_alice).json()
    assert deal_after["company"] is None and deal_after["timeline"] == []
    senders = [s["sender"] for s in client.get(f"{API}/unmatched", headers=as_alice).json()]
    assert "jane@acme.test" in senders  # only the company matched her mail
    invoice = client.get(f"{API}/contacts/{jane}", headers=as_alice).json()["timeline"]
    assert [t["message_id"] for t in invoice] == [mail["invoice"]]  # still Jane Lane's
    assert client.delete(f"{API}/deals/{deal}", headers=as_alice).status_code == 200
    assert client.delete(f"{API}/contacts/{jane}", headers=as_alice).json()["rematched"] == 1
    assert client.get(f"{API}/contacts", headers=as_alice).json()["total"] == 0
    assert client.delete(f"{API}/contacts/{jane}", headers=as_alice).status_code == 404


HUBSPOT = (
    "First Name,Last Name,Email,Company Name,Favourite Colour\n"
    "Jane,Doe,jane@acme.test,Acme,blue\n"
    "Nobody,Here,,,green\n"
)


def test_a_contacts_file_is_uploaded_with_the_column_report(
    client: TestClient, mail: dict[str, int], as_alice: dict[str, str]
) -> None:
    answer = client.post(
        f"{API}/contacts/import",
        files={"file": ("hubspot.csv", HUBSPOT.encode(), "text/csv")},
        headers=as_alice,
    )
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["file"] == "hubspot.csv" and report["contacts_created"] == 1
    assert report["used_columns"]["Email"] == "email"
    assert report["ignored_columns"] == ["Favourite Colour"]
    assert report["skipped"] == [{"item": "row 3", "reason": "no email address"}]
    assert report["rematched"] == 2
    listed = client.get(f"{API}/contacts?q=jane", headers=as_alice).json()["items"]
    assert [(c["name"], c["messages"]) for c in listed] == [("Jane Doe", 2)]

    vcard = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Tom Lane\r\nEMAIL:tom@acme.test\r\nEND:VCARD\r\n"
    cards = client.post(
        f"{API}/contacts/import", files={"file": ("people.vcf", vcard.encode())}, headers=as_alice
    )
    assert cards.json()["source"] == "vcard" and cards.json()["contacts_created"] == 1

    wrong = client.post(
        f"{API}/contacts/import", files={"file": ("notes.pdf", b"%PDF")}, headers=as_alice
    )
    assert wrong.status_code == 422 and "expected a .csv or .vcf file" in wrong.text
    empty = client.post(
        f"{API}/contacts/import", files={"file": ("../../etc/empty.csv", b"")}, headers=as_alice
    )
    assert empty.status_code == 422
    assert empty.json()["error"]["message"] == "empty.csv is empty"  # no temporary path
    none = client.post(f"{API}/contacts/import", data={"x": "1"}, headers=as_alice)
    assert none.status_code == 422 and "choose a file" in none.text


def test_an_upload_over_20_mb_is_refused_before_it_is_read(
    client: TestClient, as_alice: dict[str, str]
) -> None:
    big = b"name,email\n" + b"x,x@example.test\n" * (21 * 1024 * 1024 // 17)
    answer = client.post(
        f"{API}/contacts/import", files={"file": ("big.csv", big)}, headers=as_alice
    )
    assert answer.status_code == 413
    error = answer.json()["error"]
    assert error["code"] == "too_large" and "up to 20 MB" in error["message"]
    assert client.get(f"{API}/contacts", headers=as_alice).json()["total"] == 0


def test_the_upload_is_in_the_openapi_document(client: TestClient) -> None:
    document = client.get(f"{API}/openapi.json").json()
    upload = document["paths"][f"{API}/contacts/import"]["post"]
    form = upload["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["properties"]["file"]["format"] == "binary"
    assert "413" in upload["responses"]
    assert {"patch", "delete"} <= set(document["paths"][f"{API}/contacts/{{contact_id}}"])
