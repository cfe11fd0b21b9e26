"""Webhooks never reach the server's own network: not when added, not when delivered.

Every address form below points at a live listener on 127.0.0.1 (or at the metadata address,
which these tests never contact: it is refused before any connection). The listener must
receive nothing. Names resolve through the local DNS server only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest
from dnslib import AAAA, RR, A, DNSRecord
from dnslib.server import DNSHandler

from mailmatch.config import Settings
from mailmatch.errors import InvalidInput
from mailmatch.store.db import open_database
from tests.providers.conftest import LocalDns
from tests.servers.receiver import Receiver
from tests.webhooks.conftest import hooks_for, queue_matched_mail

# Each form of "this machine" a URL can take, all naming the listener's port.
LOOPBACK_FORMS = [
    "http://127.0.0.1:{port}/hook",
    "http://2130706433:{port}/hook",  # 127.0.0.1 as one decimal number
    "http://0x7f000001:{port}/hook",  # ... as hex
    "http://127.1:{port}/hook",  # ... shortened
    "http://[::ffff:127.0.0.1]:{port}/hook",  # IPv4-mapped IPv6
    "http://[::1]:{port}/hook",
    "http://0.0.0.0:{port}/hook",  # "any": the kernel connects it to this machine
    "http://localhost:{port}/hook",
    "http://loopback.hooks-example.net:{port}/hook",  # a public-looking name for 127.0.0.1
]
NEVER_CONTACTED = [  # refused from the URL alone; no test may ever send them a packet
    "http://0177.0.0.1:{port}/hook",  # 127.0.0.1 in octal: not even a valid URL to httpx
    "http://169.254.169.254/latest/meta-data/",
    "http://[::ffff:169.254.169.254]/latest/meta-data/",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://10.0.0.1/",
    "http://192.168.1.1/",
    "http://[fe80::1]/",
    "http://224.0.0.1/",
    "http://240.0.0.1/",
    "http://[fd00::1]/",
    "https://user:secret@hooks-example.net/",
]


@pytest.fixture
def dns(dns_server: LocalDns) -> LocalDns:
    dns_server.add_a("loopback.hooks-example.net", "127.0.0.1")
    return dns_server


@pytest.mark.parametrize("form", LOOPBACK_FORMS + NEVER_CONTACTED)
def test_an_internal_url_is_refused_when_added(
    form: str, settings_for: Callable[..., Settings], receiver: Receiver, dns: LocalDns
) -> None:
    hooks = hooks_for(settings_for())

    with pytest.raises(InvalidInput) as refused:
        hooks.add(form.format(port=receiver.port), "s3cret")

    assert refused.value.code == "invalid_input"
    reasons = ("loopback", "link-local", "private", "multicast", "reserved", "unspecified",
               "only inside a network", "user name or password", "not a usable URL")  # fmt: skip
    assert any(r in refused.value.message for r in reasons), refused.value.message
    assert hooks.all() == []
    assert receiver.connections == 0


@pytest.mark.parametrize("form", LOOPBACK_FORMS)
def test_a_delivery_to_an_internal_address_is_refused_and_the_user_sees_only_that_it_failed(
    form: str, settings_for: Callable[..., Settings], receiver: Receiver, dns: LocalDns
) -> None:
    # An administrator had opened loopback and the webhook was added; then closed it again.
    url = form.format(port=receiver.port)
    opened = settings_for(allow="127.0.0.0/8,::1,0.0.0.0,localhost")
    db = open_database(opened)
    hook = hooks_for(opened, db).add(url, "s3cret")
    queue_matched_mail(db, 1)

    report = hooks_for(settings_for(), db).deliver_due(backoff=timedelta(0))

    assert (report.delivered, report.retrying) == (0, 1)
    assert receiver.connections == 0
    user_log = hooks_for(settings_for(), db).log(hook["id"])
    assert [(d["last_error"], d["last_status_code"]) for d in user_log] == [
        ("delivery failed", None)
    ]
    admin_log = hooks_for(settings_for(), db).log(hook["id"], details=True)
    why = admin_log[0]["last_error"]
    assert any(r in why for r in ("loopback", "unspecified", "only inside a network")), why


class RebindingDns(LocalDns):
    """Answers ``first`` to the first ``lookups`` lookups of every name, ``then`` after that:
    the DNS rebinding trick, where the check sees one address and the connect another."""

    def __init__(self, first: str, then: str, lookups: int) -> None:
        super().__init__()
        self.first, self.then, self.left = first, then, lookups * 2  # A and AAAA each

    def resolve(self, request: DNSRecord, handler: DNSHandler) -> DNSRecord:
        name, qtype = str(request.q.qname), request.q.qtype
        self.queries.append((name, str(qtype), handler.protocol))
        address = self.first if self.left > 0 else self.then
        self.left -= 1
        reply = request.reply()
        if ":" in address and qtype == 28:  # AAAA
            reply.add_answer(RR(name, 28, rdata=AAAA(address), ttl=0))
        elif ":" not in address and qtype == 1:  # A
            reply.add_answer(RR(name, 1, rdata=A(address), ttl=0))
        return reply


def test_a_rebinding_name_is_connected_to_at_the_address_that_was_checked(
    settings_for: Callable[..., Settings], receiver: Receiver
) -> None:
    """``::1`` stands for a public address here (the administrator opened it; no test may
    contact a real one). The name answers ``::1`` to the check when the webhook is added and
    to the check of the first delivery, then 127.0.0.1 to every lookup: a client that looked
    the name up again to connect would reach the listener on 127.0.0.1, which shares the port.
    """
    rebinding = RebindingDns(first="::1", then="127.0.0.1", lookups=2)
    rebinding.start()
    try:
        with Receiver(ipv6=True, port=receiver.port) as allowed:
            settings = replace(settings_for(allow="::1"), dns_server=("127.0.0.1", rebinding.port))
            db = open_database(settings)
            hooks = hooks_for(settings, db)
            hook = hooks.add(f"http://crm.hooks-example.net:{receiver.port}/hook", "s3cret")
            queue_matched_mail(db, 1)
            first = hooks.deliver_due(backoff=timedelta(0))  # checked ::1, connects to ::1
            queue_matched_mail(db, 1, start=1)
            second = hooks.deliver_due(backoff=timedelta(0))  # now 127.0.0.1: refused
            reached = len(allowed.received)
    finally:
        rebinding.stop()

    assert (first.delivered, reached) == (1, 1)
    assert (second.delivered, second.retrying) == (0, 1)
    assert receiver.connections == 0  # 127.0.0.1 was never connected to
    log = hooks.log(hook["id"], details=True)
    assert [d["status"] for d in log] == ["pending", "delivered"]
    assert "resolves to a loopback address" in log[0]["last_error"]
