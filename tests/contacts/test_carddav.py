"""Fetching contacts over CardDAV, against a real Radicale (see conftest.py)."""

from __future__ import annotations

import httpx
import pytest

from mailmatch.contacts import carddav
from mailmatch.contacts.carddav import CardDavError, fetch_address_books
from mailmatch.errors import MailmatchError
from tests.contacts.conftest import Radicale
from tests.servers.tcp import closed_port


def test_discovery_from_the_server_root_reads_every_address_book(radicale: Radicale) -> None:
    # The user gives only the server: /.well-known/carddav, the principal, its home set and
    # the books in it are found from there.
    records = fetch_address_books(radicale.url + "/", "alice", radicale.users["alice"])

    assert records.source == "carddav"
    by_name = {contact.name: contact for contact in records.contacts}
    assert sorted(by_name) == ["Jane Doe", "Mum", "Raj Patel"]
    jane = by_name["Jane Doe"]
    assert jane.emails == ["jane.doe@acme.example", "jane@home.example"]
    assert (jane.company, jane.title, jane.tags) == (
        "Acme Corp",
        "Head of Sales",
        ["customer", "vip"],
    )
    # source_id is the card's URL: what a later re-sync asks the server for.
    assert jane.source_id == f"{radicale.url}/alice/work/jane.vcf"
    assert jane.custom["addressbook"] == "Work"
    assert by_name["Mum"].custom["addressbook"] == "Family"
    assert records.skipped == [
        (f"{radicale.url}/alice/work/no-mail.vcf", "The Plumber: no email address")
    ]
    assert sorted(c.name for c in records.companies) == ["Acme Corp", "Globex"]


def test_an_address_book_url_reads_only_that_book(radicale: Radicale) -> None:
    records = fetch_address_books(f"{radicale.url}/alice/family/", "alice", radicale.users["alice"])

    assert [c.name for c in records.contacts] == ["Mum"]


def test_a_wrong_password_is_auth_failed_and_never_repeated(radicale: Radicale) -> None:
    with pytest.raises(CardDavError) as caught:
        fetch_address_books(radicale.url, "alice", "Tr0ub4dor&3")

    error = caught.value
    assert isinstance(error, MailmatchError)
    assert error.code == "auth_failed"
    assert error.status == 401
    assert "401 Unauthorized" in error.message
    assert any("app-specific password" in line for line in error.advice)
    assert "Tr0ub4dor&3" not in str(error) + " ".join(error.advice)


def test_a_user_without_address_books_is_told_so(radicale: Radicale) -> None:
    with pytest.raises(CardDavError) as caught:
        fetch_address_books(radicale.url, "bob", radicale.users["bob"])

    assert caught.value.code == "not_found"


def test_a_larger_book_next_to_an_empty_one(radicale: Radicale) -> None:
    book = radicale.make_addressbook("carol", "clients", "Clients")
    radicale.make_addressbook("carol", "empty", "Nothing yet")
    for n in range(25):
        radicale.put_card(book, f"c{n}.vcf", card(n), "carol")

    records = fetch_address_books(f"{radicale.url}/carol/", "carol", radicale.users["carol"])

    assert sorted(c.source_id or "" for c in records.contacts) == sorted(
        f"{book}c{n}.vcf" for n in range(25)
    )
    assert records.skipped == []


def test_servers_that_refuse_addressbook_query_are_read_with_multiget(
    radicale: Radicale, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Not every server answers an addressbook-query: then the members are listed with
    # PROPFIND and fetched with addressbook-multiget, in batches (of 2 here, to see several).
    book = radicale.make_addressbook("carol", "refusing", "Refusing")
    for n in range(5):
        radicale.put_card(book, f"c{n}.vcf", card(n), "carol")
    send = carddav._Dav._send
    bodies: list[bytes] = []

    def refuse_queries(
        dav: carddav._Dav, method: str, url: httpx.URL, *, depth: str, body: bytes
    ) -> tuple[httpx.Response, httpx.URL]:
        bodies.append(body)
        if b"addressbook-query" in body:
            return httpx.Response(501, request=httpx.Request(method, url)), url
        return send(dav, method, url, depth=depth, body=body)

    monkeypatch.setattr(carddav._Dav, "_send", refuse_queries)
    monkeypatch.setattr(carddav, "_MULTIGET_BATCH", 2)

    records = fetch_address_books(book, "carol", radicale.users["carol"])

    assert sorted(c.name for c in records.contacts) == [f"Person {n}" for n in range(5)]
    assert sum(b"addressbook-multiget" in body for body in bodies) == 3


def card(n: int) -> str:
    return (
        f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:c{n}\r\nFN:Person {n}\r\n"
        f"EMAIL:person{n}@example.com\r\nEND:VCARD\r\n"
    )


def test_nothing_listening_is_connection_refused() -> None:
    with pytest.raises(CardDavError) as caught:
        fetch_address_books(f"http://127.0.0.1:{closed_port()}/", "alice", "secret", timeout=3)

    assert caught.value.code == "connection_refused"
    assert "secret" not in caught.value.message


def test_the_password_follows_redirects_only_within_the_same_site() -> None:
    from mailmatch.contacts.carddav import _Dav

    icloud = _Dav(httpx.Client(), "me@icloud.com", "contacts.icloud.com")
    assert icloud._trusted("p42-contacts.icloud.com")
    assert not icloud._trusted("contacts.icloud.com.evil.example")
    assert not icloud._trusted("evil.example")
    assert not _Dav(httpx.Client(), "u", "dav.example.co.uk")._trusted("evil.co.uk")
    assert not _Dav(httpx.Client(), "u", "127.0.0.1")._trusted("10.0.0.1")
