"""The providers and accounts API against the fixture Dovecot and SMTP server.

Accounts are added with the servers given explicitly (``localhost``, the fixture ports) and the
fixture certificate pinned by fingerprint, the way a self-hosted server is connected.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from mailmatch.users.service import UserView
from tests.servers.dovecot import AUTH_FAILED_REPLY, PASSWORD, USER
from tests.web.conftest import bearer, sign_in

API = "/api/v1"


def body(dovecot: Any, smtp_server: Any, password: str, **extra: Any) -> dict[str, Any]:
    return {
        "address": USER,
        "password": password,
        "imap": {"host": "localhost", "port": dovecot.imaps_port, "security": "ssl"},
        "smtp": {"host": "localhost", "port": smtp_server.ssl_port, "security": "ssl"},
        "cert_fingerprint": dovecot.fingerprint,
        **extra,
    }


@pytest.fixture
def alice_api(app: FastAPI, alice: UserView) -> dict[str, str]:
    return bearer(app, alice)


def test_providers_and_a_guide(client: TestClient, alice_api: dict[str, str]) -> None:
    listed = client.get(f"{API}/providers", headers=alice_api).json()
    ids = {p["id"] for p in listed}
    assert {"gmail", "icloud", "outlook_com", "proton_bridge"} <= ids
    outlook = next(p for p in listed if p["id"] == "outlook_com")
    assert outlook["can_connect"] is False
    gmail = client.get(f"{API}/providers/gmail", headers=alice_api).json()
    assert gmail["app_password"]["generate_url"] == "https://myaccount.google.com/apppasswords"
    assert gmail["app_password"]["format"]["display_mask"] == "xxxx xxxx xxxx xxxx"
    codes = [t["code"] for t in gmail["troubleshooting"]]
    assert "app_password_required" in codes
    refused = next(t for t in gmail["troubleshooting"] if t["code"] == "app_password_required")
    assert any("Application-specific password required" in e["text"]
               for e in refused["provider_texts"])  # fmt: skip
    missing = client.get(f"{API}/providers/nope", headers=alice_api)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    found = client.get(f"{API}/providers", params={"q": "gmx"}, headers=alice_api).json()
    assert [p["id"] for p in found] == ["gmx"]


def test_discover(client: TestClient, alice_api: dict[str, str]) -> None:
    found = client.get(f"{API}/discover", params={"address": "a@gmail.com"}, headers=alice_api)
    assert found.status_code == 200
    data = found.json()
    assert data["source"] == "catalog"
    assert data["provider"] == {"id": "gmail", "name": "Gmail"}
    assert data["imap"]["host"] == "imap.gmail.com"
    assert data["guide_url"] == "/help/providers/gmail"
    bad = client.get(f"{API}/discover", params={"address": "not an address"}, headers=alice_api)
    assert bad.status_code == 422


def test_add_refuses_a_wrong_password_with_the_servers_words(
    client: TestClient, alice_api: dict[str, str], dovecot: Any, smtp_server: Any
) -> None:
    wrong = client.post(
        f"{API}/accounts", json=body(dovecot, smtp_server, "wrong-password"), headers=alice_api
    )
    assert wrong.status_code == 422
    data = wrong.json()
    assert data["saved"] is False
    assert data["account"] is None
    imap = data["test"]["imap"]
    assert imap["ok"] is False
    assert imap["code"] == "auth_failed"
    assert imap["server_text"] in AUTH_FAILED_REPLY
    assert imap["advice"]
    assert imap["help_url"] == "/help#trouble-auth_failed"
    assert "wrong-password" not in wrong.text
    assert client.get(f"{API}/accounts", headers=alice_api).json() == []


def test_the_account_lifecycle(
    app: FastAPI,
    client: TestClient,
    alice_api: dict[str, str],
    bob: UserView,
    dovecot: Any,
    smtp_server: Any,
) -> None:
    tried = client.post(
        f"{API}/accounts/test", json=body(dovecot, smtp_server, PASSWORD), headers=alice_api
    )
    assert tried.status_code == 200, tried.text
    assert tried.json()["ok"] is True
    assert client.get(f"{API}/accounts", headers=alice_api).json() == []  # nothing saved

    added = client.post(
        f"{API}/accounts",
        json=body(dovecot, smtp_server, PASSWORD, name="work"),
        headers=alice_api,
    )
    assert added.status_code == 201, added.text
    data = added.json()
    assert data["saved"] is True
    assert data["account"]["name"] == "work"
    assert data["account"]["source"] == "manual"
    assert data["account"]["last_test_ok"] is True
    assert [s["ok"] for s in data["test"]["imap"]["steps"]] == [True] * 6
    assert PASSWORD not in added.text

    listed = client.get(f"{API}/accounts", headers=alice_api)
    assert [a["name"] for a in listed.json()] == ["work"]
    assert PASSWORD not in listed.text
    one = client.get(f"{API}/accounts/work", headers=alice_api).json()
    assert one["imap"]["port"] == dovecot.imaps_port
    assert "password" not in json.dumps(one).replace("password_set_at", "")

    dup = client.post(
        f"{API}/accounts", json=body(dovecot, smtp_server, PASSWORD, name="work"),
        headers=alice_api,
    )  # fmt: skip
    assert dup.status_code == 409

    # Bob's workspace has no account called "work".
    bob_api = bearer(app, bob)
    assert client.get(f"{API}/accounts", headers=bob_api).json() == []
    for method, path, payload in (
        ("GET", "/accounts/work", None),
        ("POST", "/accounts/work/test", None),
        ("PUT", "/accounts/work/password", {"password": "x"}),
        ("DELETE", "/accounts/work", None),
    ):
        answer = client.request(method, f"{API}{path}", json=payload, headers=bob_api)
        assert answer.status_code == 404, (method, path)

    changed = client.put(
        f"{API}/accounts/work/password", json={"password": " wrong \n"}, headers=alice_api
    )
    assert changed.status_code == 200
    assert changed.json()["account"]["last_test_ok"] is None
    assert "wrong" not in changed.text
    test = client.post(f"{API}/accounts/work/test", headers=alice_api).json()
    assert test["ok"] is False
    assert test["imap"]["code"] == "auth_failed"
    assert test["smtp"]["steps"][-1]["detail"] == "not tried: IMAP refused the password"
    client.put(f"{API}/accounts/work/password", json={"password": PASSWORD}, headers=alice_api)
    assert client.post(f"{API}/accounts/work/test", headers=alice_api).json()["ok"] is True

    assert client.delete(f"{API}/accounts/work", headers=alice_api).status_code == 204
    assert client.get(f"{API}/accounts/work", headers=alice_api).status_code == 404


def test_invalid_input_is_a_4xx(client: TestClient, alice_api: dict[str, str]) -> None:
    for payload in (
        {"address": "x@example.org"},
        {"address": "x@example.org", "password": "p", "cert_fingerprint": "abc"},
        {"address": "x@example.org", "password": "p", "imap": {"port": 0}},
        {"address": "x@example.org", "password": "p", "name": "a/b",
         "imap": {"host": "localhost"}, "smtp": {"host": "localhost"}},
        {"address": "nobody", "password": "p"},
    ):  # fmt: skip
        answer = client.post(f"{API}/accounts", json=payload, headers=alice_api)
        assert answer.status_code == 422, (payload, answer.text)
        assert answer.json()["error"]["code"] == "invalid_input"


def test_the_browser_session_needs_the_csrf_header(client: TestClient, alice: UserView) -> None:
    csrf = sign_in(client, alice.email)
    assert client.get(f"{API}/accounts").status_code == 200
    payload = {"address": "x@example.org", "password": "p", "cert_fingerprint": "abc"}
    refused = client.post(f"{API}/accounts/test", json=payload)
    assert refused.status_code == 403
    allowed = client.post(f"{API}/accounts/test", json=payload, headers={"X-CSRF-Token": csrf})
    assert allowed.status_code == 422  # past the CSRF check, refused for the bad fingerprint


def test_anonymous_callers_are_refused(client: TestClient) -> None:
    for method, path in (
        ("GET", "/providers"),
        ("GET", "/providers/gmail"),
        ("GET", "/discover?address=a@gmail.com"),
        ("GET", "/accounts"),
        ("POST", "/accounts"),
        ("POST", "/accounts/test"),
        ("GET", "/accounts/work"),
        ("DELETE", "/accounts/work"),
        ("POST", "/accounts/work/test"),
        ("PUT", "/accounts/work/password"),
    ):
        assert client.request(method, f"{API}{path}", json={}).status_code == 401, path


def test_an_untrusted_certificate_comes_back_with_its_fingerprint(
    client: TestClient, alice_api: dict[str, str], dovecot: Any, smtp_server: Any
) -> None:
    unpinned = body(dovecot, smtp_server, PASSWORD)
    del unpinned["cert_fingerprint"]
    answer = client.post(f"{API}/accounts/test", json=unpinned, headers=alice_api)
    assert answer.status_code == 200, answer.text
    imap = answer.json()["test"]["imap"]
    assert imap["code"] == "tls_error"
    assert imap["certificate"]["fingerprint_sha256"] == dovecot.fingerprint
    assert imap["certificate"]["issuer"] == "mailmatch test CA"
    assert imap["certificate"]["can_pin"] is True
    assert any(f"--cert-fingerprint {dovecot.fingerprint}" in a for a in imap["advice"])

    refused = client.post(f"{API}/accounts", json=unpinned, headers=alice_api)
    assert refused.status_code == 422
    cert = refused.json()["test"]["imap"]["certificate"]
    assert cert["fingerprint_sha256"] == dovecot.fingerprint

    pinned = {**unpinned, "cert_fingerprint": cert["fingerprint_sha256"]}
    assert client.post(f"{API}/accounts", json=pinned, headers=alice_api).status_code == 201
