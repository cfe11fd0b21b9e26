"""The help center: public, generated from the catalog, one troubleshooting anchor per code."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from mailmatch.errors import Code
from mailmatch.providers.catalog import load_catalog
from mailmatch.providers.guide import trouble_anchor
from mailmatch.users.service import UserView
from tests.web.conftest import sign_in

CATALOG = load_catalog()


def test_the_index_is_public_and_lists_every_provider(client: TestClient) -> None:
    page = client.get("/help")
    assert page.status_code == 200
    assert "How app passwords work" in page.text
    for provider in CATALOG:
        assert f'href="/help/providers/{provider.id}"' in page.text
    assert "Needs an app password" in page.text
    assert "Special cases" in page.text
    for code in Code:  # the general troubleshooting, linked from diagnoses without a provider
        assert f'id="{trouble_anchor(code)}"' in page.text


def test_search_narrows_the_list_and_htmx_gets_only_the_results(client: TestClient) -> None:
    page = client.get("/help", params={"q": "icloud.com"})
    assert 'href="/help/providers/icloud"' in page.text
    assert 'href="/help/providers/gmail"' not in page.text
    assert "1 of" in page.text
    part = client.get(
        "/help", params={"q": "nothing-like-this"}, headers={"HX-Request": "true",
                                                            "HX-Target": "provider-results"},
    )  # fmt: skip
    assert part.text.lstrip().startswith('<div id="provider-results">')
    assert "No provider matches" in part.text
    assert "<html" not in part.text


@pytest.mark.parametrize("provider_id", [p.id for p in CATALOG])
def test_every_provider_has_a_complete_guide(client: TestClient, provider_id: str) -> None:
    provider = CATALOG.get(provider_id)
    assert provider is not None
    page = client.get(f"/help/providers/{provider_id}")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert provider.name in text
    for code in Code:
        assert f'id="{trouble_anchor(code)}"' in page.text
    for server in (*provider.imap, *provider.smtp):
        assert server.host in text
    rule = provider.app_password
    for step in (*rule.steps, *rule.prerequisites, *rule.revoke_steps):
        assert step in text
    if rule.generate_url:
        assert rule.generate_url in text
    for known in provider.known_errors:  # the provider's own words, verbatim
        assert (known.example or known.match) in text
        assert known.meaning in text
    for source in provider.sources:
        assert source in text


def test_gmail_shows_what_the_password_looks_like(client: TestClient) -> None:
    text = html.unescape(client.get("/help/providers/gmail").text)
    assert "xxxx xxxx xxxx xxxx" in text
    assert "https://myaccount.google.com/apppasswords" in text
    assert "Application-specific password required" in text
    assert "Revoking the app password" in text


def test_outlook_and_proton_say_plainly_what_is_different(client: TestClient) -> None:
    outlook = html.unescape(client.get("/help/providers/outlook_com").text)
    assert "Outlook.com cannot be connected with a password" in outlook
    proton = html.unescape(client.get("/help/providers/proton_bridge").text)
    assert "needs Proton Mail Bridge" in proton
    assert "127.0.0.1" in proton


def test_regions_are_listed(client: TestClient) -> None:
    text = html.unescape(client.get("/help/providers/zoho").text)
    assert "Regions and data centres" in text
    assert "imap.zoho.eu" in text


def test_an_unknown_provider_is_a_404_page_that_offers_search(client: TestClient) -> None:
    page = client.get("/help/providers/no-such-provider")
    assert page.status_code == 404
    assert "No guide for" in page.text
    assert 'action="/help"' in page.text


def test_signed_in_users_get_the_app_layout(client: TestClient, alice: UserView) -> None:
    sign_in(client, alice.email)
    page = client.get("/help/providers/gmail")
    assert 'class="sidebar"' in page.text
    assert 'href="/connect"' in page.text


def test_the_connect_button_uses_the_right_article(client: TestClient, alice: UserView) -> None:
    sign_in(client, alice.email)
    for provider_id, label in [
        ("icloud", "Connect an iCloud Mail mailbox"),
        ("ionos", "Connect an IONOS mailbox"),
        ("gmail", "Connect a Gmail mailbox"),
        ("sfr", "Connect an SFR Mail mailbox"),
        ("kpn", "Connect a KPN Mail mailbox"),
    ]:
        text = html.unescape(client.get(f"/help/providers/{provider_id}").text)
        assert label in text, provider_id
    assert "Connect a iCloud" not in html.unescape(client.get("/help/providers/icloud").text)


BADGES_OUTSIDE_THEIR_BOX = """() => Array.from(document.querySelectorAll('.badge')).filter(b => {
  const box = b.closest('.provider-grid a, .trouble, .page-header, .card');
  if (!box) return false;
  const r = b.getBoundingClientRect(), c = box.getBoundingClientRect();
  return r.right > c.right + 0.5 || r.left < c.left - 0.5 || b.scrollWidth > b.clientWidth + 1;
}).map(b => b.textContent.trim() + ' in ' + b.closest('.provider-grid a, .trouble, .page-header,'
  + ' .card').className)"""


@pytest.mark.browser
def test_badges_stay_inside_their_cards_browser(
    live_server: Any, page: Any, phone: Any, screenshots: Path
) -> None:
    """The policy and code badges of the help center, on a laptop and a phone."""
    paths = ["/help", *(f"/help/providers/{p.id}" for p in CATALOG)]
    for tab, device in ((phone, "phone"), (page, "laptop")):
        for path in paths:
            tab.goto(f"{live_server.url}{path}")
            outside = tab.evaluate(BADGES_OUTSIDE_THEIR_BOX)
            assert not outside, (device, path, outside)
        tab.goto(f"{live_server.url}/help")
        tab.screenshot(path=str(screenshots / f"help-index-{device}.png"), full_page=True)
        tab.screenshot(path=str(screenshots / f"help-index-{device}-top.png"))  # the cards
        tab.goto(f"{live_server.url}/help/providers/ionos")
        tab.screenshot(path=str(screenshots / f"help-ionos-{device}.png"), full_page=True)
