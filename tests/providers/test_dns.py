"""DNS helpers against a real local name server (see ``dns_server`` in conftest)."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from mailmatch.config import Settings
from mailmatch.providers.dns import (
    DnsError,
    MxRecord,
    SrvRecord,
    make_resolver,
    resolve_host,
    resolve_mx,
    resolve_srv,
)
from tests.providers.conftest import LocalDns
from tests.servers.tcp import free_port


def test_srv_records_come_best_first_and_dot_means_not_offered(
    dns_server: LocalDns, make_settings: Callable[..., Settings]
) -> None:
    dns_server.add_srv("_imaps._tcp.example.test", "backup.example.test", 993, priority=20)
    dns_server.add_srv("_imaps._tcp.example.test", "light.example.test", 993, 10, weight=1)
    dns_server.add_srv("_imaps._tcp.example.test", "heavy.example.test", 993, 10, weight=9)
    dns_server.add_srv("_imap._tcp.example.test", ".", 0)
    resolver = make_resolver(make_settings())

    imaps = resolve_srv(resolver, "_imaps._tcp.example.test")
    assert [r.target for r in imaps] == [
        "heavy.example.test",
        "light.example.test",
        "backup.example.test",
    ]
    assert resolve_srv(resolver, "_imap._tcp.example.test") == [SrvRecord(0, 0, 0, ".")]
    assert not resolve_srv(resolver, "_imap._tcp.example.test")[0].offered
    assert resolve_srv(resolver, "_submission._tcp.example.test") == []  # NXDOMAIN


def test_mx_records_sorted_by_preference(
    dns_server: LocalDns, make_settings: Callable[..., Settings]
) -> None:
    dns_server.add_mx("example.test", 20, "alt1.aspmx.l.google.com")
    dns_server.add_mx("example.test", 10, "ASPMX.L.GOOGLE.COM")
    resolver = make_resolver(make_settings())
    assert resolve_mx(resolver, "example.test") == [
        MxRecord(10, "aspmx.l.google.com"),
        MxRecord(20, "alt1.aspmx.l.google.com"),
    ]


def test_hosts_resolve_through_the_configured_server_only(
    dns_server: LocalDns, make_settings: Callable[..., Settings]
) -> None:
    dns_server.add_a("imap.example.test", "127.0.0.1")
    dns_server.add_aaaa("imap.example.test", "::1")
    resolver = make_resolver(make_settings())
    assert resolver.nameservers == ["127.0.0.1"]
    assert resolve_host(resolver, "imap.example.test") == ["127.0.0.1", "::1"]
    assert resolve_host(resolver, "nothing.example.test") == []
    assert resolve_host(resolver, "192.0.2.7") == ["192.0.2.7"]  # literals need no lookup
    assert resolve_host(resolver, "[::1]") == ["::1"]


def test_a_truncated_udp_answer_is_asked_again_over_tcp(
    dns_server: LocalDns, make_settings: Callable[..., Settings]
) -> None:
    for n in range(40):  # far more than 512 bytes
        dns_server.add_srv("_imaps._tcp.big.test", f"imap{n:02}.big.test", 993, priority=n)
    resolver = make_resolver(make_settings())
    records = resolve_srv(resolver, "_imaps._tcp.big.test")
    assert len(records) == 40
    assert records[0].target == "imap00.big.test"
    assert ("_imaps._tcp.big.test.", "SRV", "tcp") in dns_server.queries


def test_an_unreachable_name_server_fails_fast_with_dns_error(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(
        {"MAILMATCH_DNS_SERVER": f"127.0.0.1:{free_port()}", "MAILMATCH_CONNECT_TIMEOUT": "0.5"}
    )
    started = time.monotonic()
    with pytest.raises(DnsError):
        resolve_mx(make_resolver(settings), "example.test")
    assert time.monotonic() - started < 3
