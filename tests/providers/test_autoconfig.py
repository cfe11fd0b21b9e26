"""The clientConfig parser, the ISPDB fetch with its cache, and a domain's own autoconfig."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mailmatch.config import Settings
from mailmatch.providers.autoconfig import (
    POSITIVE_TTL,
    AutoconfigError,
    AutoconfigPorts,
    FetchError,
    autoconfig_urls,
    fetch_domain_autoconfig,
    fetch_ispdb,
    http_get,
    parse_client_config,
)
from mailmatch.providers.dns import make_resolver
from mailmatch.providers.models import Security, Server, UsernameForm
from tests.providers.conftest import ISPDB_SNAPSHOT, LocalDns, LocalHttp
from tests.servers.tcp import free_port

CONFIG = """<?xml version="1.0" encoding="UTF-8"?>
<clientConfig version="1.1">
  <emailProvider id="example.test">
    <domain>example.test</domain>
    <displayName>Example Mail</displayName>
    <incomingServer type="pop3">
      <hostname>pop.example.test</hostname><port>995</port><socketType>SSL</socketType>
    </incomingServer>
    <incomingServer type="imap">
      <hostname>oauth.example.test</hostname><port>993</port><socketType>SSL</socketType>
      <username>%EMAILADDRESS%</username><authentication>OAuth2</authentication>
    </incomingServer>
    <incomingServer type="imap">
      <hostname>plain.%EMAILDOMAIN%</hostname><port>143</port><socketType>plain</socketType>
      <username>%EMAILLOCALPART%</username>
    </incomingServer>
    <incomingServer type="imap">
      <hostname>IMAP.example.test</hostname><port>993</port><socketType>SSL</socketType>
      <username>%EMAILLOCALPART%</username>
      <authentication>OAuth2</authentication>
      <authentication>password-cleartext</authentication>
    </incomingServer>
    <outgoingServer type="smtp">
      <hostname>smtp.example.test</hostname><port>587</port><socketType>STARTTLS</socketType>
      <username>%EMAILLOCALPART%.%EMAILDOMAIN%</username>
      <authentication>password-encrypted</authentication>
    </outgoingServer>
  </emailProvider>
</clientConfig>
"""


def test_parser_keeps_password_servers_and_says_why_others_were_dropped() -> None:
    config = parse_client_config(CONFIG, "example.test")
    assert config.provider_id == "example.test"
    assert config.display_name == "Example Mail"
    assert config.imap == (
        Server("imap.example.test", 993, Security.SSL, username=UsernameForm.LOCALPART),
        Server("plain.example.test", 143, Security.PLAIN, username=UsernameForm.LOCALPART),
    )  # encrypted first even though the plain one came first
    assert config.username_form is UsernameForm.LOCALPART
    (smtp,) = config.smtp
    assert (smtp.host, smtp.port, smtp.security, smtp.username) == (
        "smtp.example.test",
        587,
        Security.STARTTLS,
        None,
    )
    assert smtp.note and "%EMAILLOCALPART%.%EMAILDOMAIN%" in smtp.note
    assert config.skipped == (
        "IMAP oauth.example.test:993 only offers oauth2, not a password login",
    )


@pytest.mark.parametrize(
    "document",
    [
        "<clientConfig><emailProvider>",  # truncated
        "<html><body>Not here</body></html>",  # a web server's error page
        '<!DOCTYPE x [<!ENTITY a "aaaa">]><clientConfig>&a;</clientConfig>',  # entity tricks
        b"\xff\xfe\x00garbage",
    ],
)
def test_parser_rejects_what_is_not_a_client_config(document: str | bytes) -> None:
    with pytest.raises(AutoconfigError):
        parse_client_config(document, "example.test")


@pytest.mark.skipif(not ISPDB_SNAPSHOT.is_dir(), reason="needs the ISPDB snapshot in ../shared")
def test_every_snapshot_file_parses() -> None:
    for path in sorted(ISPDB_SNAPSHOT.glob("*.xml")):
        config = parse_client_config(path.read_bytes(), "example.org")
        assert config.imap or config.skipped or "imap" not in path.read_text(), path.name


def test_ispdb_answer_is_cached_and_a_corrupt_cache_is_ignored(
    ispdb_server: LocalHttp, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings()
    resolver = make_resolver(settings)

    first = fetch_ispdb("a1.net", settings, resolver)
    assert first.config is not None and not first.from_cache
    assert first.config.imap[0] == Server(
        "securemail.a1.net", 993, Security.SSL, username=UsernameForm.EMAIL
    )
    assert ispdb_server.ispdb_requests() == ["/v1.1/a1.net"]
    assert settings.home.stat().st_mode & 0o777 == 0o700  # the cache made the home private
    for level in (settings.cache_dir, settings.cache_dir / "ispdb"):
        assert level.stat().st_mode & 0o777 == 0o700, level  # not listable by other users
    assert (settings.cache_dir / "ispdb" / "a1.net.json").stat().st_mode & 0o777 == 0o600

    second = fetch_ispdb("a1.net", settings, resolver)
    assert second.from_cache and second.config == first.config
    assert len(ispdb_server.ispdb_requests()) == 1  # no second HTTP request

    cache_file = settings.cache_dir / "ispdb" / "a1.net.json"
    cache_file.write_text('{"format": 1, "url": "trunc')
    third = fetch_ispdb("a1.net", settings, resolver)
    assert not third.from_cache and third.config == first.config
    assert any("corrupt" in note for note in third.notes)
    assert len(ispdb_server.ispdb_requests()) == 2
    assert json.loads(cache_file.read_text())["status"] == "found"  # rewritten


def test_ispdb_cache_expires_and_a_missing_entry_is_cached_too(
    ispdb_server: LocalHttp, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings()
    resolver = make_resolver(settings)
    assert fetch_ispdb("nothing.test", settings, resolver, now=1000.0).config is None
    assert fetch_ispdb("nothing.test", settings, resolver, now=2000.0).from_cache

    fetch_ispdb("gmx.de", settings, resolver, now=1000.0)
    later = fetch_ispdb("gmx.de", settings, resolver, now=1000.0 + POSITIVE_TTL + 1)
    assert not later.from_cache
    assert ispdb_server.ispdb_requests() == ["/v1.1/nothing.test", "/v1.1/gmx.de", "/v1.1/gmx.de"]


def test_an_ispdb_server_error_is_not_cached(
    http_server: LocalHttp, make_settings: Callable[..., Settings]
) -> None:
    http_server.add_route("*", "/v1.1/broken.test", "oops", status=503)
    settings = make_settings()
    for _ in range(2):
        with pytest.raises(FetchError, match="503"):
            fetch_ispdb("broken.test", settings, make_resolver(settings))
    assert len(http_server.ispdb_requests()) == 2


def test_an_unreachable_ispdb_raises_fetch_error(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings({"MAILMATCH_ISPDB_URL": f"http://127.0.0.1:{free_port()}/v1.1/"})
    with pytest.raises(FetchError, match="cannot connect"):
        fetch_ispdb("example.test", settings, make_resolver(settings))


def test_redirects_are_followed_only_to_https(
    http_server: LocalHttp, make_settings: Callable[..., Settings]
) -> None:
    http_server.add_route("*", "/old", "", status=301, Location="http://127.0.0.1/new")
    settings = make_settings()
    with pytest.raises(FetchError, match="not https"):
        http_get(http_server.url("/old"), settings, make_resolver(settings))


def test_autoconfig_urls_are_https_unless_http_is_allowed() -> None:
    urls = autoconfig_urls("anna+x@example.test", "example.test", https_only=True)
    assert urls == [
        "https://autoconfig.example.test/mail/config-v1.1.xml?emailaddress=anna%2Bx@example.test",
        "https://example.test/.well-known/autoconfig/mail/config-v1.1.xml",
    ]
    with_http = autoconfig_urls(
        "a@example.test", "example.test", https_only=False, ports=AutoconfigPorts(http=8080)
    )
    assert (
        with_http[2]
        == "http://autoconfig.example.test:8080/mail/config-v1.1.xml?emailaddress=a@example.test"
    )


def test_the_domains_well_known_file_is_found_through_the_local_dns(
    dns_server: LocalDns, http_server: LocalHttp, make_settings: Callable[..., Settings]
) -> None:
    dns_server.add_a("example.test")  # autoconfig.example.test does not exist
    http_server.add_route("example.test", "/.well-known/autoconfig/mail/config-v1.1.xml", CONFIG)
    settings = make_settings({"MAILMATCH_AUTOCONFIG_HTTP": "1"})
    ports = AutoconfigPorts(https=free_port(), http=http_server.port)

    config, url, notes = fetch_domain_autoconfig(
        "anna@example.test", "example.test", settings, make_resolver(settings), ports=ports
    )
    assert config is not None and config.imap[0].host == "imap.example.test"
    assert (
        url == f"http://example.test:{http_server.port}/.well-known/autoconfig/mail/config-v1.1.xml"
    )
    assert len(notes) == 3  # autoconfig.example.test unknown (twice), https refused
    assert http_server.requests == [
        ("example.test", "/.well-known/autoconfig/mail/config-v1.1.xml")
    ]


def test_https_autoconfig_with_an_untrusted_certificate_is_refused(
    dns_server: LocalDns,
    http_server: LocalHttp,
    tls_context: ssl.SSLContext,
    make_settings: Callable[..., Settings],
) -> None:
    """Resolving through our own DNS must not switch certificate checks off."""
    dns_server.add_a("autoconfig.example.test")
    https = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    https.socket = tls_context.wrap_socket(https.socket, server_side=True)
    threading.Thread(
        target=https.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    try:
        settings = make_settings()
        ports = AutoconfigPorts(https=https.server_address[1])
        config, _, notes = fetch_domain_autoconfig(
            "anna@example.test", "example.test", settings, make_resolver(settings), ports=ports
        )
    finally:
        https.shutdown()
        https.server_close()
    assert config is None
    assert "CERTIFICATE_VERIFY_FAILED" in notes[0], notes
