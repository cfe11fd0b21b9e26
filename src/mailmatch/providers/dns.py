"""DNS lookups for discovery, all through one resolver built from the settings.

Discovery asks DNS three questions: SRV records (RFC 6186 / RFC 8314), MX records, and the
addresses of guessed host names. Every one of them goes through the resolver that
:func:`make_resolver` builds, so that ``MAILMATCH_DNS_SERVER`` points *all* of discovery at one
name server (a test's local server, or a corporate resolver) and so that every lookup has a
timeout. The helpers return plain dataclasses and raise only :class:`DnsError`, so callers never
need to know dnspython's exception zoo.

This module is named ``dns`` inside ``mailmatch.providers``; ``import dns.resolver`` below still
means dnspython because imports are absolute.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver

from mailmatch.config import Settings

# One attempt against one name server; the whole lookup is bounded by the settings' timeout.
_ATTEMPT_TIMEOUT = 3.0
_ADDRESS_TYPES = frozenset({dns.rdatatype.A, dns.rdatatype.AAAA})


class DnsError(Exception):
    """A lookup failed for a reason other than "no such record" (timeout, SERVFAIL...)."""


@dataclass(frozen=True)
class SrvRecord:
    """One SRV answer. ``target`` is lower case without the final dot; ``"."`` stays ``"."``."""

    priority: int
    weight: int
    port: int
    target: str

    @property
    def offered(self) -> bool:
        """RFC 2782: a target of "." says the service is decidedly not available."""
        return self.target != "."


@dataclass(frozen=True)
class MxRecord:
    preference: int
    host: str  # lower case, no final dot; "." for a null MX (RFC 7505)


def make_resolver(settings: Settings) -> dns.resolver.Resolver:
    """The one resolver discovery uses.

    With ``settings.dns_server`` set, only that server is asked (UDP first; dnspython retries
    over TCP when an answer comes back truncated). Otherwise the system's configuration is read.
    Raises :class:`DnsError` when there is no usable system configuration.
    """
    if settings.dns_server is not None:
        resolver = dns.resolver.Resolver(configure=False)
        host, port = settings.dns_server
        resolver.nameservers = [host]
        resolver.port = port
    else:
        try:
            resolver = dns.resolver.Resolver()
        except dns.exception.DNSException as exc:  # e.g. no /etc/resolv.conf
            raise DnsError(f"no usable DNS configuration: {exc}") from exc
    lifetime = max(0.1, settings.connect_timeout)
    resolver.timeout = min(_ATTEMPT_TIMEOUT, lifetime)
    resolver.lifetime = lifetime
    # Never append a search domain: "imap.example.org" must not become a local name.
    resolver.search = []
    resolver.use_search_by_default = False
    return resolver


def _query(resolver: dns.resolver.Resolver, name: str, rdtype: str) -> dns.resolver.Answer | None:
    """An answer, or None when the name or the record type does not exist."""
    try:
        qname = dns.name.from_text(name)
        return resolver.resolve(qname, rdtype, search=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return None
    except dns.exception.Timeout as exc:
        raise DnsError(f"DNS lookup of {rdtype} {name} timed out") from exc
    except dns.resolver.NoNameservers as exc:
        raise DnsError(f"DNS lookup of {rdtype} {name} failed: no server answered") from exc
    except dns.exception.DNSException as exc:
        raise DnsError(f"DNS lookup of {rdtype} {name} failed: {exc}") from exc


def _host(name: dns.name.Name) -> str:
    text: str = name.to_text(omit_final_dot=True).lower()
    return text or "."


def resolve_srv(resolver: dns.resolver.Resolver, name: str) -> list[SrvRecord]:
    """SRV records for ``name`` (e.g. ``_imaps._tcp.example.org``), best first.

    Ordered by priority, then by descending weight: discovery wants one answer to show, not a
    random load-balancing pick, and the heaviest record is the one meant to get most clients.
    """
    answer = _query(resolver, name, "SRV")
    if answer is None:
        return []
    records = [
        SrvRecord(rr.priority, rr.weight, rr.port, _host(rr.target))
        for rr in answer
        if rr.rdtype == dns.rdatatype.SRV
    ]
    return sorted(records, key=lambda r: (r.priority, -r.weight, r.target, r.port))


def resolve_mx(resolver: dns.resolver.Resolver, domain: str) -> list[MxRecord]:
    """MX records for ``domain``, lowest preference (most preferred) first."""
    answer = _query(resolver, domain, "MX")
    if answer is None:
        return []
    records = [
        MxRecord(rr.preference, _host(rr.exchange))
        for rr in answer
        if rr.rdtype == dns.rdatatype.MX
    ]
    return sorted(records, key=lambda r: (r.preference, r.host))


def resolve_host(resolver: dns.resolver.Resolver, host: str) -> list[str]:
    """IPv4 then IPv6 addresses of ``host``; an IP literal is returned as it is.

    The guess probe and the HTTP fetches connect to these addresses themselves so that name
    resolution follows the same resolver as every other lookup. Raises :class:`DnsError` only
    when neither lookup could be answered; an empty list means "no such host".
    """
    literal = host.strip("[]")
    try:
        return [str(ipaddress.ip_address(literal))]
    except ValueError:
        pass
    addresses: list[str] = []
    failures: list[DnsError] = []
    for rdtype in ("A", "AAAA"):
        try:
            answer = _query(resolver, host, rdtype)
        except DnsError as exc:
            failures.append(exc)
            continue
        if answer is not None:
            addresses.extend(rr.address for rr in answer if rr.rdtype in _ADDRESS_TYPES)
    if not addresses and len(failures) == 2:
        raise failures[0]
    return addresses
