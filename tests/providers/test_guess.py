"""The probe behind guessed host names: a server must really greet, and STARTTLS must be there."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable, Iterator

import pytest

from mailmatch.config import Settings
from mailmatch.providers.dns import make_resolver
from mailmatch.providers.guess import GuessPorts, imap_candidates, probe, smtp_candidates
from mailmatch.providers.models import Protocol, Security, Server
from tests.providers.conftest import Greeter, LocalDns
from tests.servers.tcp import free_port


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and then never says a word."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        yield listener.getsockname()[1]


def test_candidates_prefer_implicit_tls_and_honour_port_overrides() -> None:
    ports = GuessPorts(imap_ssl=10993, imap_starttls=10143, smtp_ssl=10465, smtp_starttls=10587)
    assert imap_candidates("example.test", ports)[:3] == [
        Server("imap.example.test", 10993, Security.SSL),
        Server("mail.example.test", 10993, Security.SSL),
        Server("imap.example.test", 10143, Security.STARTTLS),
    ]
    assert [(s.host, s.port) for s in smtp_candidates("example.test", ports)] == [
        ("smtp.example.test", 10465),
        ("smtp.example.test", 10587),
        ("mail.example.test", 10465),
        ("mail.example.test", 10587),
    ]


def test_a_tls_greeting_is_read_without_verifying_the_certificate(
    dns_server: LocalDns, tls_context: ssl.SSLContext, make_settings: Callable[..., Settings]
) -> None:
    dns_server.add_a("imap.example.test", "127.0.0.1")
    greeter = Greeter("imap", tls=tls_context)
    try:
        server = Server("imap.example.test", greeter.port, Security.SSL)
        result = probe(Protocol.IMAP, server, make_resolver(make_settings()), timeout=2)
    finally:
        greeter.close()
    assert result.ok and result.detail == "* OK test IMAP ready"


@pytest.mark.parametrize(
    ("protocol", "speaks", "offers_starttls", "reason"),
    [
        (Protocol.IMAP, "imap", False, "does not offer STARTTLS"),
        (Protocol.SMTP, "smtp", False, "does not offer STARTTLS"),
        (Protocol.IMAP, "smtp", True, "not an IMAP greeting"),
    ],
)
def test_a_server_that_is_not_what_we_need_is_rejected(
    protocol: Protocol,
    speaks: str,
    offers_starttls: bool,
    reason: str,
    make_settings: Callable[..., Settings],
) -> None:
    greeter = Greeter(speaks, starttls=offers_starttls)
    server = Server("127.0.0.1", greeter.port, Security.STARTTLS)
    try:
        result = probe(protocol, server, make_resolver(make_settings()), timeout=2)
    finally:
        greeter.close()
    assert not result.ok and reason in result.detail


def test_silence_unknown_names_and_closed_ports_fail_fast(
    silent_port: int, make_settings: Callable[..., Settings]
) -> None:
    resolver = make_resolver(make_settings())
    started = time.monotonic()
    silent = probe(Protocol.IMAP, Server("127.0.0.1", silent_port, Security.SSL), resolver, 0.3)
    closed = probe(Protocol.SMTP, Server("127.0.0.1", free_port(), Security.SSL), resolver, 0.3)
    unknown = probe(Protocol.IMAP, Server("imap.nowhere.test", 993, Security.SSL), resolver, 0.3)
    assert time.monotonic() - started < 2
    assert [silent.detail, closed.detail, unknown.detail] == [
        "timed out",
        "connection refused",
        "does not resolve",
    ]
