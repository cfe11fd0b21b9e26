"""Discovery end to end, each step answering from a real local server.

Every test runs hermetically: ``make_settings`` points DNS at ``dns_server`` (NXDOMAIN for any
name a test did not add) and the ISPDB at ``http_server``, so nothing leaves 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mailmatch.config import Settings
from mailmatch.errors import InvalidInput, NotFound
from mailmatch.providers.autoconfig import AutoconfigPorts
from mailmatch.providers.catalog import Catalog, load_catalog, provider_from_dict
from mailmatch.providers.discovery import (
    NothingFound,
    discover,
    manual_settings,
    parse_address,
)
from mailmatch.providers.discovery_models import Source
from mailmatch.providers.models import Security, Server, UsernameForm
from tests.providers.conftest import LocalDns, LocalHttp, MailServers
from tests.providers.test_autoconfig import CONFIG
from tests.servers.tcp import free_port

MakeSettings = Callable[..., Settings]


def _provider(pid: str, name: str, imap: str, smtp: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": pid,
        "name": name,
        "imap": [{"host": imap, "port": 993, "security": "ssl"}],
        "smtp": [{"host": smtp, "port": 465, "security": "ssl"}],
        "app_password": {"policy": "required"},
        **extra,
    }


def _region(rid: str, imap: str, smtp: str, domains: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "id": rid,
        "name": rid.upper(),
        "domains": list(domains),
        "imap": [{"host": imap, "port": 993, "security": "ssl"}],
        "smtp": [{"host": smtp, "port": 465, "security": "ssl"}],
    }


CATALOG = Catalog(
    [
        provider_from_dict(p)
        for p in (
            _provider(
                "gmail",
                "Gmail",
                "imap.gmail.com",
                "smtp.gmail.com",
                domains=["gmail.com"],
                mx_suffixes=["google.com"],
            ),
            _provider(
                "zoho",
                "Zoho Mail",
                "imap.zoho.com",
                "smtp.zoho.com",
                domains=["zoho.com"],
                mx_suffixes=["zoho.com", "zoho.eu"],
                regions=[_region("eu", "imap.zoho.eu", "smtp.zoho.eu", ("zohomail.eu",))],
            ),
            _provider(
                "ionos",
                "IONOS",
                "imap.ionos.com",
                "smtp.ionos.com",
                domains=[],
                mx_suffixes=["ionos.de", "ionos.com"],
                regions=[_region("de", "imap.ionos.de", "smtp.ionos.de")],
            ),
            _provider("gmx", "GMX", "imap.gmx.net", "mail.gmx.net", domains=["gmx.net"]),
        )
    ]
)


def run(address: str, settings: Settings, **kwargs: Any) -> Any:
    kwargs.setdefault("probe_guesses", False)
    return discover(address, settings, catalog=CATALOG, **kwargs)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "anna",
        "anna@",
        "@example.org",
        "an na@example.org",
        "anna@localhost",
        "anna@exa_mple.org",
        "anna@192.168.1.1",
    ],
)
def test_an_invalid_address_is_refused(bad: str, make_settings: MakeSettings) -> None:
    with pytest.raises(InvalidInput):
        discover(bad, make_settings(), catalog=CATALOG)


def test_addresses_are_normalised_and_idn_domains_looked_up_in_ascii() -> None:
    assert parse_address(" Anna@Example.ORG ") == ("Anna@example.org", "example.org")
    assert parse_address("anna@bücher.example") == ("anna@bücher.example", "xn--bcher-kva.example")


def test_a_listed_domain_needs_no_network(
    make_settings: MakeSettings, http_server: LocalHttp, dns_server: LocalDns
) -> None:
    found = run("anna@gmail.com", make_settings())
    assert found.source is Source.CATALOG
    assert (found.imap.host, found.smtp.host) == ("imap.gmail.com", "smtp.gmail.com")
    assert found.provider is not None and found.provider.id == "gmail"
    assert found.notes == ["catalog entry for gmail.com: Gmail"]
    assert http_server.requests == [] and dns_server.queries == []


def test_a_regional_domain_gets_the_regions_servers(make_settings: MakeSettings) -> None:
    found = run("anna@zohomail.eu", make_settings())
    assert (found.source, found.region, found.imap.host) == (Source.CATALOG, "eu", "imap.zoho.eu")


def test_the_ispdb_answers_for_an_unlisted_domain(
    ispdb_server: LocalHttp, make_settings: MakeSettings
) -> None:
    found = run("anna@aon.at", make_settings())  # listed in the snapshot's a1.net.xml
    assert found.source is Source.ISPDB
    assert found.imap == Server("securemail.a1.net", 993, Security.SSL, username=UsernameForm.EMAIL)
    assert (found.smtp.host, found.smtp.port, found.smtp.security) == (
        "securemail.a1.net",
        587,
        Security.STARTTLS,
    )
    assert "ISPDB entry for aon.at" in found.notes
    assert found.provider is None

    again = run("bob@aon.at", make_settings())
    assert "ISPDB entry for aon.at (cached)" in again.notes
    assert ispdb_server.ispdb_requests() == ["/v1.1/aon.at"]


def test_an_ispdb_entry_on_a_known_providers_servers_brings_its_advice(
    ispdb_server: LocalHttp, make_settings: MakeSettings
) -> None:
    found = run("anna@gmx.at", make_settings())  # the test catalog only knows gmx.net
    assert (found.source, found.imap.host) == (Source.ISPDB, "imap.gmx.net")
    assert found.provider is not None and found.provider.id == "gmx"
    assert "imap.gmx.net belongs to GMX" in found.notes


def test_an_oauth_only_ispdb_entry_is_passed_over(
    ispdb_server: LocalHttp, make_settings: MakeSettings
) -> None:
    with pytest.raises(NothingFound) as caught:
        run("anna@hotmail.com", make_settings())
    assert any("oauth2, not a password login" in note for note in caught.value.notes)


def test_the_domains_own_autoconfig_is_used_over_http_when_allowed(
    dns_server: LocalDns, http_server: LocalHttp, make_settings: MakeSettings
) -> None:
    dns_server.add_a("autoconfig.example.test")
    http_server.add_route("autoconfig.example.test", "/mail/config-v1.1.xml", CONFIG)
    ports = AutoconfigPorts(https=free_port(), http=http_server.port)
    settings = make_settings({"MAILMATCH_AUTOCONFIG_HTTP": "1"})

    found = run("anna@example.test", settings, autoconfig_ports=ports)
    assert (found.source, found.imap.host) == (Source.AUTOCONFIG, "imap.example.test")
    assert found.username == "anna"  # %EMAILLOCALPART%
    assert (
        "autoconfig.example.test",
        "/mail/config-v1.1.xml?emailaddress=anna@example.test",
    ) in http_server.requests

    with pytest.raises(NotFound):  # https only (the default): the http file is not fetched
        run("anna@example.test", make_settings(), autoconfig_ports=ports)


def test_srv_records_give_imap_and_submission(
    dns_server: LocalDns, make_settings: MakeSettings
) -> None:
    dns_server.add_srv("_imaps._tcp.example.test", "mail.example.test", 993, priority=10)
    dns_server.add_srv("_imap._tcp.example.test", "mail.example.test", 143, priority=5)
    dns_server.add_srv("_submissions._tcp.example.test", ".", 0)
    dns_server.add_srv("_submission._tcp.example.test", "out.example.test", 587)
    found = run("anna@example.test", make_settings())
    assert found.source is Source.SRV
    assert found.imap == Server("mail.example.test", 143, Security.STARTTLS)  # lower priority
    assert found.imap_alternatives == [Server("mail.example.test", 993, Security.SSL)]
    assert found.smtp == Server("out.example.test", 587, Security.STARTTLS)
    assert "SRV _submissions._tcp.example.test says the service is not offered" in found.notes


def test_srv_without_submission_records_falls_back_to_an_smtp_guess(
    dns_server: LocalDns, make_settings: MakeSettings
) -> None:
    dns_server.add_srv("_imaps._tcp.example.test", "mail.example.test", 993)
    found = run("anna@example.test", make_settings())
    assert (found.source, found.smtp.host, found.smtp.note) == (
        Source.SRV,
        "mail.example.test",
        "unverified",
    )


def test_srv_saying_not_offered_moves_on(dns_server: LocalDns, make_settings: MakeSettings) -> None:
    dns_server.add_srv("_imaps._tcp.example.test", ".", 0)
    dns_server.add_mx("example.test", 10, "aspmx.l.google.com")
    assert run("anna@example.test", make_settings()).source is Source.MX


@pytest.mark.parametrize(
    ("mx", "provider", "region", "imap"),
    [
        (["10 aspmx.l.google.com", "20 mx.zoho.eu"], "gmail", None, "imap.gmail.com"),
        (["10 mx.zoho.eu", "20 mx2.zoho.eu"], "zoho", "eu", "imap.zoho.eu"),
        (["10 mx01.ionos.de"], "ionos", "de", "imap.ionos.de"),
    ],
)
def test_mx_records_of_a_known_provider(
    mx: list[str],
    provider: str,
    region: str | None,
    imap: str,
    dns_server: LocalDns,
    make_settings: MakeSettings,
) -> None:
    for record in mx:
        preference, host = record.split()
        dns_server.add_mx("corp.example", int(preference), host)
    found = run("anna@corp.example", make_settings())
    assert found.source is Source.MX
    assert found.provider is not None and found.provider.id == provider
    assert (found.region, found.imap.host) == (region, imap)
    assert any(note.startswith(f"MX {mx[0].split()[1]} belongs to") for note in found.notes)


def test_common_host_names_that_answer_a_real_probe(
    dns_server: LocalDns, mail_servers: MailServers, make_settings: MakeSettings
) -> None:
    for name in ("imap.example.test", "smtp.example.test"):
        dns_server.add_a(name, "127.0.0.1")
    found = run(
        "anna@example.test", make_settings(), probe_guesses=True, guess_ports=mail_servers.ports
    )
    assert found.source is Source.GUESS
    assert found.imap == Server("imap.example.test", mail_servers.imaps.port, Security.SSL)
    assert found.imap_alternatives == [
        Server("imap.example.test", mail_servers.imap.port, Security.STARTTLS)
    ]
    assert found.smtp == Server("smtp.example.test", mail_servers.smtps.port, Security.SSL)
    assert mail_servers.imaps.connections == 1  # a real TLS connection was made


def test_nothing_found_says_what_was_tried_and_what_to_do(make_settings: MakeSettings) -> None:
    with pytest.raises(NothingFound) as caught:
        run("anna@nowhere.test", make_settings(), probe_guesses=True)
    assert isinstance(caught.value, NotFound)  # what callers catch
    assert any("--imap-host" in line for line in caught.value.advice)
    notes = caught.value.notes
    assert "the ISPDB has no entry for nowhere.test" in notes
    assert "no MX records for nowhere.test" in notes
    assert any(note.startswith("no common host name answered") for note in notes)


def test_an_unreachable_ispdb_does_not_break_the_chain(
    dns_server: LocalDns, make_settings: MakeSettings
) -> None:
    dns_server.add_mx("corp.example", 10, "aspmx.l.google.com")
    settings = make_settings({"MAILMATCH_ISPDB_URL": f"http://127.0.0.1:{free_port()}/v1.1/"})
    found = run("anna@corp.example", settings)
    assert found.source is Source.MX
    assert any(note.startswith("ISPDB lookup failed") for note in found.notes)


def test_manual_settings_keep_the_providers_advice() -> None:
    imap = Server("imap.gmail.com", 993, Security.SSL)
    smtp = Server("smtp.gmail.com", 587, Security.STARTTLS)
    by_domain = manual_settings("anna@gmail.com", imap, smtp, CATALOG)
    assert (by_domain.source, by_domain.provider and by_domain.provider.id) == (
        Source.MANUAL,
        "gmail",
    )
    workspace = manual_settings("anna@corp.example", imap, smtp, CATALOG)
    assert workspace.provider is not None and workspace.provider.id == "gmail"
    unknown = manual_settings(
        "anna@corp.example", Server("mx.corp.example", 993, Security.SSL), smtp, CATALOG
    )
    assert unknown.provider is None and unknown.smtp == smtp


def test_only_bridges_own_ports_on_this_machine_are_proton_bridge() -> None:
    """127.0.0.1 is Bridge's catalog host, but a home server or a test Dovecot runs there too:
    on loopback the port decides, so their users do not get Bridge's advice."""
    shipped = load_catalog()
    smtp = Server("127.0.0.1", 4465, Security.SSL)
    own = manual_settings("me@example.org", Server("127.0.0.1", 9993, Security.SSL), smtp, shipped)
    assert own.provider is None
    named = manual_settings("me@example.org", Server("localhost", 993, Security.SSL), smtp, shipped)
    assert named.provider is None
    for host in ("127.0.0.1", "localhost"):
        bridge = manual_settings(
            "me@example.org", Server(host, 1143, Security.STARTTLS), smtp, shipped
        )
        assert bridge.provider is not None and bridge.provider.id == "proton_bridge", host
    # A Proton address is Bridge's whatever the port: the domain says so.
    proton = manual_settings("me@proton.me", Server("127.0.0.1", 9993, Security.SSL), smtp, shipped)
    assert proton.provider is not None and proton.provider.id == "proton_bridge"


def test_the_shipped_provider_list_knows_gmail(make_settings: MakeSettings) -> None:
    try:
        catalog = load_catalog()
    except (FileNotFoundError, ValueError, KeyError) as exc:
        pytest.skip(f"the shipped catalog cannot be loaded yet: {exc}")
    if catalog.by_domain("gmail.com") is None:
        pytest.skip("the shipped catalog has no gmail.com entry yet")
    found = discover("anna@gmail.com", make_settings(), catalog=catalog, probe_guesses=False)
    assert (found.source, found.imap.host) == (Source.CATALOG, "imap.gmail.com")
