"""The web side of webhooks and connection tests: what a signed-in user can make the server
reach. Receivers listen on 127.0.0.1 and must receive nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from mailmatch.config import Settings, load_settings
from mailmatch.store.records import WebhookDelivery
from mailmatch.users.service import UserView
from tests.servers.receiver import Receiver
from tests.web.conftest import add_user, bearer, sign_in

API = "/api/v1"


@pytest.fixture
def web_settings(mailmatch_env: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """No extra port opened: only mail server ports may be probed."""
    monkeypatch.delenv("MAILMATCH_ALLOW_PORTS")
    return load_settings()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def test_a_user_cannot_add_a_webhook_to_the_servers_network(
    app: FastAPI, client: TestClient, alice: UserView, bob: UserView, receiver: Receiver
) -> None:
    as_bob = bearer(app, bob)
    for url in (
        receiver.url,
        f"http://2130706433:{receiver.port}/",
        "http://[::ffff:169.254.169.254]/latest/meta-data/",
        "http://metadata.google.internal/",
        "https://user:pw@hooks.test/in",
    ):
        refused = client.post(f"{API}/webhooks", json={"url": url, "secret": "s"}, headers=as_bob)
        assert refused.status_code == 422, url
        assert refused.json()["error"]["code"] == "invalid_input"
    assert client.get(f"{API}/webhooks", headers=as_bob).json() == []
    assert receiver.connections == 0


def test_only_administrators_read_what_a_delivery_ran_into(
    app: FastAPI, client: TestClient, alice: UserView
) -> None:
    carol = add_user(app, "carol@example.org", workspace=alice.workspace)  # not an admin
    made = client.post(
        f"{API}/webhooks",
        json={"url": "https://hooks.test/in", "secret": "s"},
        headers=bearer(app, carol),
    ).json()
    with app.state.mailmatch.db.session() as session:  # an attempt at an opened internal host
        session.add(
            WebhookDelivery(
                webhook_id=made["id"], event="message.matched", payload={}, status="pending",
                attempts=1, last_status_code=503, internal_target=True,
                last_error="HTTP 503: Redis is loading the dataset in memory",
            )
        )  # fmt: skip
    log = f"{API}/webhooks/{made['id']}/deliveries"

    seen_by_carol = client.get(log, headers=bearer(app, carol)).json()
    seen_by_alice = client.get(log, headers=bearer(app, alice)).json()

    assert alice.is_admin and not carol.is_admin
    assert [(d["last_error"], d["last_status_code"]) for d in seen_by_carol] == [
        ("delivery failed", None)
    ]
    assert seen_by_alice[0]["last_status_code"] == 503
    assert "Redis" in seen_by_alice[0]["last_error"]


def test_a_webhook_is_removed_through_the_api_and_the_page(
    app: FastAPI, client: TestClient, alice: UserView, bob: UserView
) -> None:
    as_alice = bearer(app, alice)
    first = client.post(
        f"{API}/webhooks", json={"url": "https://hooks.test/a", "secret": "s"}, headers=as_alice
    ).json()
    second = client.post(
        f"{API}/webhooks", json={"url": "https://hooks.test/b", "secret": "s"}, headers=as_alice
    ).json()

    assert (
        client.delete(f"{API}/webhooks/{first['id']}", headers=bearer(app, bob)).status_code == 404
    )
    removed = client.delete(f"{API}/webhooks/{first['id']}", headers=as_alice)
    assert removed.status_code == 200 and removed.json()["url"] == "https://hooks.test/a"

    csrf = sign_in(client, alice.email)
    page = client.get("/webhooks").text
    assert re.search(rf'action="/webhooks/{second["id"]}/delete"', page)
    forged = client.post(f"/webhooks/{second['id']}/delete", data={"csrf_token": "forged"})
    assert forged.status_code == 403
    done = client.post(
        f"/webhooks/{second['id']}/delete", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"] == "/webhooks?removed=1"
    assert client.get(f"{API}/webhooks", headers=as_alice).json() == []
    assert "Webhook removed" in client.get("/webhooks?removed=1").text


def test_the_connection_test_reaches_only_mail_server_ports(
    app: FastAPI, client: TestClient, alice: UserView, receiver: Receiver
) -> None:
    servers = {"host": "127.0.0.1", "port": receiver.port, "security": "plain"}
    body = {"address": "anna@example.org", "password": "pw", "imap": servers, "smtp": servers}

    api = client.post(f"{API}/accounts/test", json=body, headers=bearer(app, alice))

    csrf = sign_in(client, alice.email)
    form = {
        "address": "anna@example.org", "password": "pw", "custom": "1", "csrf_token": csrf,
        "imap_host": "127.0.0.1", "imap_port": str(receiver.port), "imap_security": "plain",
        "smtp_host": "127.0.0.1", "smtp_port": "587", "smtp_security": "plain",
    }  # fmt: skip
    page = client.post("/connect/test", data=form, headers={"HX-Request": "true"})

    assert api.status_code == 422 and api.json()["error"]["code"] == "invalid_input"
    assert (
        f"port {receiver.port} of 127.0.0.1 is not a mail server port"
        in api.json()["error"]["message"]
    )
    assert "not a mail server port" in page.text
    assert receiver.connections == 0
