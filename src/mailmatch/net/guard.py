"""Outbound requests made on a user's behalf may only reach the public internet.

A signed-in user chooses webhook URLs and, through their mail domain, the autoconfig URLs the
server fetches. Without a guard that is a port scanner into the server's own network: the cloud
metadata service at 169.254.169.254, a database on 127.0.0.1, the router at 192.168.1.1.

The rule, applied to every address a name resolves to:

* refused: loopback, private, link-local, multicast, unspecified, reserved and every other
  range that is not globally routable (IPv4 and IPv6; an IPv4 address inside IPv6, as in
  ``::ffff:169.254.169.254``, 6to4 or NAT64, is judged as that IPv4 address); host names that
  only exist inside a network (``localhost``, ``*.internal`` as in ``metadata.google.internal``,
  ``*.local``, ``*.home.arpa``, single-label names); URLs with credentials in them;
* hosts are read the way the C library reads them, so ``2130706433``, ``0x7f000001`` and
  ``0177.0.0.1`` are all 127.0.0.1;
* the connection goes to exactly the address that was checked (the URL's host is replaced by
  it; ``Host`` and, for https, TLS SNI and the certificate check keep the original name), so a
  name that answers a public address to the check and 127.0.0.1 to the connect (DNS rebinding)
  gains nothing;
* an administrator opens internal hosts or networks with ``MAILMATCH_ALLOW_INTERNAL`` (host
  names and CIDR blocks, comma separated): a listed name is trusted whatever it resolves to, a
  listed network opens the addresses in it.

The connection test of the web wizard is a related probe: it may only reach the ports mail
servers use (:data:`MAIL_PORTS`) unless ``MAILMATCH_ALLOW_PORTS`` opens more.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mailmatch.config import Settings
from mailmatch.errors import ConfigError, InvalidInput

if TYPE_CHECKING:
    import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str], list[str]]  # host name -> addresses; [] when it does not resolve

#: IMAP 143/993, SMTP 25/465/587/2525, Proton Mail Bridge 1143 (IMAP) and 1025 (SMTP).
MAIL_PORTS = frozenset({143, 993, 25, 465, 587, 2525, 1143, 1025})

ALLOW_SETTING = "MAILMATCH_ALLOW_INTERNAL"
PORTS_SETTING = "MAILMATCH_ALLOW_PORTS"

# Names that resolve only inside some network, never on the public internet.
_INTERNAL_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa", ".lan", ".intranet")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}$", re.I)


class AddressRefused(InvalidInput):
    """A URL or address the server must not reach for a user (code ``invalid_input``)."""


def _advice() -> list[str]:
    return [
        "Use a public http(s) URL. To reach a server inside this network, an administrator "
        f"adds its host name or network to {ALLOW_SETTING} (e.g. crm.corp,10.0.0.0/8)."
    ]


def literal_address(host: str) -> IPAddress | None:
    """The address a host written as a number stands for, as the C library reads it.

    ``[::1]``, ``127.0.0.1``, but also ``2130706433``, ``0x7f000001``, ``0177.0.0.1`` and
    ``127.1``: ``inet_aton`` accepts them all, and so does every HTTP client that hands the host
    to ``getaddrinfo``. None for a host name.
    """
    bare = host.strip("[]")
    try:
        return ipaddress.ip_address(bare.split("%")[0])
    except ValueError:
        pass
    if _NUMERIC_HOST.match(bare):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(bare))
        except OSError:
            return None
    return None


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def why_internal(ip: IPAddress) -> str | None:
    """What kind of non-public address ``ip`` is ("a loopback address"), or None if public."""
    if isinstance(ip, ipaddress.IPv6Address) and (inner := _embedded_ipv4(ip)) is not None:
        reason = why_internal(inner)
        return f"{reason} inside an IPv6 address" if reason else None
    for test, reason in (
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address (cloud metadata services live there)"),
        (ip.is_multicast, "a multicast address"),
        (ip.is_unspecified, "the unspecified address"),
        (ip.is_reserved, "a reserved address"),
        (ip.is_private, "a private network address"),
        (not ip.is_global, "not a public internet address"),
    ):
        if test:
            return reason
    return None


def _internal_name(host: str) -> bool:
    name = host.lower().rstrip(".")
    return name == "localhost" or "." not in name or name.endswith(_INTERNAL_SUFFIXES)


@dataclass(frozen=True)
class AllowList:
    """The internal hosts and networks an administrator opened (``MAILMATCH_ALLOW_INTERNAL``).

    A host name entry matches that name; one starting with a dot (``.corp.example``) matches
    every name under it. A CIDR or address entry opens the addresses in it.
    """

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AllowList:
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for raw in entries:
            entry = raw.strip().lower()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            if not re.match(r"^\.?[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?$", entry):
                raise ConfigError(
                    f"{ALLOW_SETTING}: {raw.strip()!r} is neither a host name nor a network",
                    advice=["Separate entries with commas: crm.corp,10.0.0.0/8,::1"],
                )
            hosts.add(entry.rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    def host_allowed(self, host: str) -> bool:
        name = host.lower().rstrip(".")
        return name in self.hosts or any(h.startswith(".") and name.endswith(h) for h in self.hosts)

    def address_allowed(self, ip: IPAddress) -> bool:
        candidates: list[IPAddress] = [ip]
        if isinstance(ip, ipaddress.IPv6Address) and (inner := _embedded_ipv4(ip)) is not None:
            candidates.append(inner)
        return any(
            c in net for c in candidates for net in self.networks if c.version == net.version
        )


@dataclass(frozen=True)
class Target:
    """Where a request goes: the URL as given and the checked address it connects to."""

    url: httpx.URL
    address: IPAddress
    internal: bool  # an allow-listed internal address: its answers are for administrators

    @property
    def connect_url(self) -> httpx.URL:
        return self.url.copy_with(host=str(self.address))

    @property
    def headers(self) -> dict[str, str]:
        return {"Host": self.url.netloc.decode("ascii")}

    @property
    def extensions(self) -> dict[str, Any]:
        # TLS: SNI and the certificate check name the host the user gave, not the address.
        return {"sni_hostname": self.url.host} if self.url.scheme == "https" else {}


def _system_resolver(host: str) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def settings_resolver(settings: Settings) -> Resolver:
    """The resolver every other lookup uses: ``MAILMATCH_DNS_SERVER`` when set, else the
    system's (``getaddrinfo``: /etc/hosts, then DNS)."""
    if settings.dns_server is None:
        return _system_resolver
    from mailmatch.providers.dns import DnsError, make_resolver, resolve_host

    resolver = make_resolver(settings)

    def resolve(host: str) -> list[str]:
        try:
            return resolve_host(resolver, host)
        except DnsError:
            return []

    return resolve


@dataclass(frozen=True)
class Guard:
    """Checks URLs and says which address to connect to; see the module docstring."""

    allow: AllowList = field(default_factory=AllowList)
    resolve: Resolver = _system_resolver

    @classmethod
    def from_settings(cls, settings: Settings) -> Guard:
        return cls(AllowList.parse(settings.allow_internal), settings_resolver(settings))

    def parse(self, url: str | httpx.URL) -> httpx.URL:
        """The URL, once its form is acceptable: http(s), a host, no credentials, no name
        that only exists inside a network. Nothing is looked up."""
        import httpx

        try:
            parsed = url if isinstance(url, httpx.URL) else httpx.URL(url.strip())
        except (httpx.InvalidURL, TypeError) as exc:
            raise AddressRefused(f"not a usable URL: {exc}", advice=_advice()) from None
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise AddressRefused(f"not an http(s) URL: {str(url)!r}", advice=_advice())
        if parsed.userinfo:
            raise AddressRefused(
                "the URL carries a user name or password: they would be sent to whoever "
                "answers, and are refused",
                advice=["Put the credentials into the signing secret, not into the URL."],
            )
        host = parsed.host
        if (
            literal_address(host) is None
            and _internal_name(host)
            and not self.allow.host_allowed(host)
        ):
            raise AddressRefused(
                f"{host} is a name that exists only inside a network, not on the internet",
                advice=_advice(),
            )
        return parsed

    def _judge(self, host: str, ip: IPAddress, named: bool) -> bool:
        """True for an allow-listed internal address, False for a public one; raises for the
        rest. Only a name, not a number, hides which address it resolved to."""
        reason = why_internal(ip)
        if reason is None:
            return False
        if self.allow.host_allowed(host) or self.allow.address_allowed(ip):
            return True
        shown = host if named or host.strip("[]") == str(ip) else f"{host} ({ip})"
        where = f"{host} resolves to {reason}" if named else f"{shown} is {reason}"
        raise AddressRefused(f"refused: {where}", advice=_advice())

    def targets(self, url: str | httpx.URL) -> list[Target]:
        """Every address the URL's host has, each checked; raises :class:`AddressRefused` when
        one of them is refused (a name with one internal address is an internal name).

        An empty list means the name does not resolve (nothing to reach).
        """
        parsed = self.parse(url)
        host = parsed.host
        literal = literal_address(host)
        if literal is not None:
            return [Target(parsed, literal, self._judge(host, literal, named=False))]
        found: list[Target] = []
        for text in self.resolve(host):
            ip = ipaddress.ip_address(text.split("%")[0])
            found.append(Target(parsed, ip, self._judge(host, ip, named=True)))
        return found

    def check(self, url: str) -> str:
        """Refuse a URL that reaches, or resolves into, the internal network (registration
        time: a name that does not resolve yet passes, every request checks again)."""
        parsed = self.parse(url)
        if not self.allow.host_allowed(parsed.host):
            self.targets(parsed)
        return url.strip()  # as the user wrote it

    def request(
        self, client: httpx.Client, method: str, url: str | httpx.URL, **kwargs: Any
    ) -> tuple[httpx.Response, Target]:
        """Send one request to a checked address (the first that accepts the connection).

        Redirects are not followed: the answer to a redirect is the response.
        """
        import httpx

        targets = self.targets(url)
        if not targets:
            raise httpx.ConnectError(f"{self.parse(url).host} does not resolve")
        headers = {**kwargs.pop("headers", {}), **targets[0].headers}
        last: httpx.ConnectError | None = None
        for target in targets[:3]:
            try:
                response = client.request(
                    method,
                    target.connect_url,
                    headers=headers,
                    extensions=target.extensions,
                    follow_redirects=False,  # a redirect would go unchecked
                    **kwargs,
                )
                return response, target
            except httpx.ConnectError as exc:
                last = exc
        assert last is not None
        raise last


@dataclass(frozen=True)
class ProbePorts:
    """The ports a web user's connection test may reach: mail ports plus ``extra`` ranges."""

    extra: tuple[tuple[int, int], ...] = ()  # inclusive ranges

    @classmethod
    def parse(cls, value: str) -> ProbePorts:
        """``MAILMATCH_ALLOW_PORTS``: ``*`` for any, or ports and ranges (``8143,10000-10100``)."""
        text = value.strip()
        if text == "*":
            return cls(((1, 65535),))
        ranges: list[tuple[int, int]] = []
        for part in (p.strip() for p in text.split(",") if p.strip()):
            low, _, high = part.partition("-")
            try:
                start, end = int(low), int(high or low)
            except ValueError:
                raise ConfigError(f"{PORTS_SETTING}: {part!r} is not a port or range") from None
            if not 0 < start <= end < 65536:
                raise ConfigError(f"{PORTS_SETTING}: {part!r} is outside 1-65535")
            ranges.append((start, end))
        return cls(tuple(ranges))

    def allows(self, port: int) -> bool:
        return port in MAIL_PORTS or any(low <= port <= high for low, high in self.extra)

    def check(self, host: str, port: int) -> None:
        if not self.allows(port):
            known = ", ".join(str(p) for p in sorted(MAIL_PORTS))
            raise AddressRefused(
                f"port {port} of {host} is not a mail server port: the connection test "
                f"reaches only {known}",
                advice=[
                    "Mail servers listen on 993 or 143 (IMAP) and 465, 587 or 25 (SMTP). An "
                    f"administrator can open another port with {PORTS_SETTING}."
                ],
            )
