"""Signing in and out, sessions, CSRF, sign-in rate limiting and API tokens."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.testclient import TestClient

from mailmatch.users.service import UserView
from tests.web.conftest import PASSWORD, bearer, sign_in, users_of


def _login_token(client: TestClient) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
    assert found
    return found.group(1)


def test_pages_redirect_anonymous_visitors_to_sign_in(client: TestClient) -> None:
    response = client.get("/imports?x=1", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/imports%3Fx%3D1"


def test_sign_in_then_out(client: TestClient, alice: UserView) -> None:
    sign_in(client, alice.email)
    assert client.get("/", follow_redirects=False).status_code == 200
    me = client.get("/api/v1/me")
    assert me.json()["email"] == alice.email
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/").text)
    assert csrf
    out = client.post("/logout", data={"csrf_token": csrf.group(1)}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/", follow_redirects=False).status_code == 303
    assert client.get("/api/v1/me").status_code == 401


def test_signing_out_ends_the_session_on_the_server(app: FastAPI, alice: UserView) -> None:
    """A copied cookie stops working after sign-out: the session lives in the database."""
    with TestClient(app) as first:
        csrf = sign_in(first, alice.email)
        cookie = first.cookies.get("mm_session")
        first.post("/logout", data={"csrf_token": csrf})
    with TestClient(app, cookies={"mm_session": cookie or ""}) as thief:
        assert thief.get("/api/v1/me").status_code == 401


def test_wrong_password_and_unknown_email_look_the_same(
    client: TestClient, alice: UserView
) -> None:
    answers = []
    for email, password in ((alice.email, "wrong password!"), ("nobody@example.org", PASSWORD)):
        response = client.post(
            "/login",
            data={"email": email, "password": password, "csrf_token": _login_token(client)},
        )
        answers.append((response.status_code, "Wrong email or password." in response.text))
    assert answers == [(401, True), (401, True)]
    assert "mm_session" not in client.cookies


def test_sign_in_form_needs_its_csrf_token(client: TestClient, alice: UserView) -> None:
    client.get("/login")
    response = client.post(
        "/login", data={"email": alice.email, "password": PASSWORD, "csrf_token": "forged"}
    )
    assert response.status_code == 403
    assert "mm_session" not in client.cookies


def test_repeated_failures_are_rate_limited(client: TestClient, alice: UserView) -> None:
    for _ in range(5):
        client.post(
            "/login",
            data={
                "email": alice.email,
                "password": "not it at all",
                "csrf_token": _login_token(client),
            },
        )
    blocked = client.post(
        "/login",
        data={"email": alice.email, "password": PASSWORD, "csrf_token": _login_token(client)},
    )
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) > 0
    assert "Too many failed sign-ins" in blocked.text
    assert "mm_session" not in client.cookies  # not even the right password gets through


def test_next_only_goes_to_this_site(client: TestClient, alice: UserView) -> None:
    response = client.post(
        "/login",
        data={
            "email": alice.email,
            "password": PASSWORD,
            "csrf_token": _login_token(client),
            "next": "//evil.example/steal",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_page_forms_need_the_session_csrf_token(client: TestClient, alice: UserView) -> None:
    sign_in(client, alice.email)
    assert client.post("/logout", data={}, follow_redirects=False).status_code == 403
    assert (
        client.post("/logout", data={"csrf_token": "x"}, follow_redirects=False).status_code == 403
    )
    assert client.get("/api/v1/me").status_code == 200  # still signed in


def test_api_with_a_session_cookie_needs_the_csrf_header(
    client: TestClient, alice: UserView
) -> None:
    csrf = sign_in(client, alice.email)
    assert client.post("/api/v1/tokens", json={"name": "x"}).status_code == 403
    made = client.post("/api/v1/tokens", json={"name": "x"}, headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201


def test_api_tokens_work_until_revoked(app: FastAPI, client: TestClient, alice: UserView) -> None:
    headers = bearer(app, alice)
    assert client.get("/api/v1/me", headers=headers).json()["email"] == alice.email
    listed = client.get("/api/v1/tokens", headers=headers).json()
    assert [t["name"] for t in listed] == ["test"]
    assert all("token" not in t for t in listed)  # only the prefix is ever shown again
    assert client.delete(f"/api/v1/tokens/{listed[0]['id']}", headers=headers).status_code == 204
    refused = client.get("/api/v1/me", headers=headers)
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == "Bearer"
    assert refused.json()["error"]["code"] == "unauthorized"


def test_a_user_cannot_revoke_another_users_token(
    app: FastAPI, client: TestClient, alice: UserView, bob: UserView
) -> None:
    alice_headers = bearer(app, alice)
    token_id = client.get("/api/v1/tokens", headers=alice_headers).json()[0]["id"]
    gone = client.delete(f"/api/v1/tokens/{token_id}", headers=bearer(app, bob))
    assert gone.status_code == 404
    assert client.get("/api/v1/me", headers=alice_headers).status_code == 200


def test_only_hashes_are_stored(app: FastAPI, alice: UserView) -> None:
    token = users_of(app).create_token(alice.email, "cli")
    dump = "\n".join(app.state.mailmatch.db.engine.raw_connection().driver_connection.iterdump())
    assert token not in dump
    assert PASSWORD not in dump


def test_the_first_user_shares_the_cli_workspace_and_later_users_do_not(
    alice: UserView, bob: UserView
) -> None:
    assert alice.workspace == "default" and alice.is_admin
    assert bob.workspace != alice.workspace and not bob.is_admin


def test_pages_send_security_headers(client: TestClient) -> None:
    headers = client.get("/login").headers
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
