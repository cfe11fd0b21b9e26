"""A user's mail domain chooses the autoconfig URLs the server fetches: they may not point
into the server's own network. (The ISPDB URL is the administrator's setting: trusted.)"""

from __future__ import annotations

from collections.abc import Callable

from mailmatch.config import Settings
from mailmatch.providers.autoconfig import AutoconfigPorts, fetch_domain_autoconfig, fetch_ispdb
from mailmatch.providers.dns import make_resolver
from tests.providers.conftest import LocalDns, LocalHttp
from tests.providers.test_autoconfig import CONFIG
from tests.servers.tcp import free_port


def test_a_domain_whose_autoconfig_host_is_internal_is_not_fetched(
    dns_server: LocalDns, http_server: LocalHttp, make_settings: Callable[..., Settings]
) -> None:
    dns_server.add_a("autoconfig.evil.test", "127.0.0.1")  # the server's own loopback
    dns_server.add_a("evil.test", "127.0.0.1")
    http_server.add_route("*", "/mail/config-v1.1.xml", CONFIG)
    http_server.add_route("*", "/.well-known/autoconfig/mail/config-v1.1.xml", CONFIG)
    settings = make_settings({"MAILMATCH_AUTOCONFIG_HTTP": "1", "MAILMATCH_ALLOW_INTERNAL": ""})
    ports = AutoconfigPorts(https=free_port(), http=http_server.port)

    config, url, notes = fetch_domain_autoconfig(
        "anna@evil.test", "evil.test", settings, make_resolver(settings), ports=ports
    )

    assert (config, url) == (None, None)
    assert len(notes) == 4 and all("resolves to a loopback address" in n for n in notes)
    assert http_server.requests == []


def test_the_ispdb_set_by_the_administrator_is_fetched_even_on_loopback(
    http_server: LocalHttp, make_settings: Callable[..., Settings]
) -> None:
    http_server.add_route("*", "/v1.1/example.test", CONFIG)
    settings = make_settings({"MAILMATCH_ALLOW_INTERNAL": ""})

    answer = fetch_ispdb("example.test", settings, make_resolver(settings))

    assert answer.config is not None and http_server.ispdb_requests() == ["/v1.1/example.test"]
