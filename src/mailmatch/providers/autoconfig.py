"""Mozilla autoconfig: the clientConfig XML, the Thunderbird ISPDB, and a domain's own file.

Thunderbird's ISPDB and many hosting providers publish IMAP/SMTP settings in one XML format
(``clientConfig`` v1.1). This module parses it (with defusedxml: the XML comes from the
network), fetches it over HTTPS with strict timeouts, and keeps ISPDB answers in a small file
cache so that adding ten mailboxes of one domain asks the ISPDB once.

Only what mailmatch can use is kept: IMAP and SMTP servers that accept a password. Entries that
offer OAuth2 alone are dropped with a reason, so that discovery can say "the ISPDB only offers
OAuth2 here" instead of proposing a server where an app password cannot work.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
import dns.resolver
import httpx
from defusedxml import DefusedXmlException

from mailmatch.config import Settings, private_dir
from mailmatch.net.guard import AddressRefused, Guard
from mailmatch.providers.dns import DnsError, resolve_host
from mailmatch.providers.models import Security, Server, UsernameForm

POSITIVE_TTL = 7 * 24 * 3600.0  # ISPDB entries change rarely
NEGATIVE_TTL = 24 * 3600.0  # but a missing entry may be added any day
MAX_BODY = 512 * 1024  # the largest real clientConfig is a few kB
MAX_REDIRECTS = 5
_CACHE_FORMAT = 1

_SECURITY = {"ssl": Security.SSL, "starttls": Security.STARTTLS, "plain": Security.PLAIN}
_USERNAME = {"%EMAILADDRESS%": UsernameForm.EMAIL, "%EMAILLOCALPART%": UsernameForm.LOCALPART}
# "plain"/"secure" are the v1.0 names of password-cleartext/password-encrypted.
_PASSWORD_AUTH = {"password-cleartext", "password-encrypted", "plain", "secure"}
_HOSTNAME = re.compile(r"^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_-]+)*$")
_SAFE_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9.-]{0,252}$")


class AutoconfigError(ValueError):
    """The document is not a usable clientConfig (malformed XML, wrong root, forbidden DTD)."""


class FetchError(Exception):
    """An HTTP fetch failed: no connection, a timeout, a refused redirect, an oversized body."""


@dataclass(frozen=True)
class ClientConfig:
    """The usable part of one clientConfig document, servers in the document's order."""

    provider_id: str | None
    display_name: str | None
    domains: tuple[str, ...]
    imap: tuple[Server, ...]
    smtp: tuple[Server, ...]
    skipped: tuple[str, ...] = ()  # why entries were left out, e.g. "IMAP x:993 is OAuth2-only"

    @property
    def username_form(self) -> UsernameForm:
        first = self.imap[0] if self.imap else None
        return (first.username if first else None) or UsernameForm.EMAIL


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _child_text(element: Element, name: str) -> str | None:
    for child in element:
        if _local(child.tag) == name and child.text and child.text.strip():
            return child.text.strip()
    return None


def _parse_server(element: Element, kind: str, domain: str) -> Server | str:
    """A :class:`Server`, or the reason this entry cannot be used."""
    host_text = (_child_text(element, "hostname") or "").replace("%EMAILDOMAIN%", domain).lower()
    label = f"{kind} {host_text or '?'}"
    if not _HOSTNAME.match(host_text):
        return f"{label}: unusable host name"
    port_text = _child_text(element, "port") or ""
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        return f"{label}: unusable port {port_text!r}"
    label = f"{kind} {host_text}:{port_text}"
    security = _SECURITY.get((_child_text(element, "socketType") or "").lower())
    if security is None:
        return f"{label}: unknown socketType"
    methods = {
        (child.text or "").strip().lower()
        for child in element
        if _local(child.tag) == "authentication"
    }
    if methods and not methods & _PASSWORD_AUTH:
        return f"{label} only offers {', '.join(sorted(methods))}, not a password login"
    username_text = _child_text(element, "username")
    username = _USERNAME.get(username_text or "")
    note = None
    if username_text and username is None:
        note = f"the config says the user name is {username_text!r}"
    return Server(
        host=host_text, port=int(port_text), security=security, note=note, username=username
    )


def parse_client_config(document: str | bytes, domain: str) -> ClientConfig:
    """Parse a clientConfig document for an address at ``domain``.

    Raises :class:`AutoconfigError` for anything that is not a clientConfig. Servers with plain
    (unencrypted) connections are kept but moved after the encrypted ones.
    """
    try:
        root = SafeET.fromstring(document)
    except (SafeET.ParseError, DefusedXmlException, ValueError) as exc:
        raise AutoconfigError(f"not a readable clientConfig: {exc}") from exc
    if _local(root.tag) != "clientConfig":
        raise AutoconfigError(f"not a clientConfig document (root <{_local(root.tag)}>)")
    imap: list[Server] = []
    smtp: list[Server] = []
    skipped: list[str] = []
    provider_id = display_name = None
    domains: list[str] = []
    for provider in (c for c in root if _local(c.tag) == "emailProvider"):
        provider_id = provider_id or provider.get("id")
        display_name = display_name or _child_text(provider, "displayName")
        for child in provider:
            tag, kind = _local(child.tag), (child.get("type") or "").lower()
            if tag == "domain" and child.text and child.text.strip():
                domains.append(child.text.strip().lower())
            elif (tag, kind) in (("incomingServer", "imap"), ("outgoingServer", "smtp")):
                parsed = _parse_server(child, kind.upper(), domain)
                if isinstance(parsed, Server):
                    (imap if kind == "imap" else smtp).append(parsed)
                else:
                    skipped.append(parsed)

    def ordered(servers: list[Server]) -> tuple[Server, ...]:
        return tuple(sorted(servers, key=lambda s: s.security is Security.PLAIN))

    return ClientConfig(
        provider_id, display_name, tuple(domains), ordered(imap), ordered(smtp), tuple(skipped)
    )


# --- HTTP ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: bytes
    url: str


def _guarded_targets(guard: Guard, url: httpx.URL) -> list[str | None]:
    """The checked addresses of a URL the user's domain chose (see ``mailmatch.net.guard``)."""
    try:
        targets: list[str | None] = [str(t.address) for t in guard.targets(url)]
    except AddressRefused as exc:
        raise FetchError(exc.message) from exc
    if not targets:
        raise FetchError(f"{url.host} does not resolve")
    return targets


def _get_once(
    client: httpx.Client,
    url: httpx.URL,
    settings: Settings,
    resolver: dns.resolver.Resolver,
    guard: Guard | None = None,
) -> httpx.Response | HttpAnswer:
    """One GET without following redirects; a redirect comes back as the bare response.

    With a ``guard`` the URL's addresses are checked and the GET goes to one of exactly those.
    """
    targets: list[str | None]
    if guard is not None:
        targets = _guarded_targets(guard, url)
    elif settings.dns_server is None:
        targets = [None]  # let httpx resolve, honouring the system setup
    else:
        try:
            targets = [*resolve_host(resolver, url.host)]
        except DnsError as exc:
            raise FetchError(str(exc)) from exc
        if not targets:
            raise FetchError(f"{url.host} does not resolve")
    last: Exception | None = None
    for ip in targets[:3]:
        # With our own resolver we connect to the IP and keep the name for Host and TLS SNI,
        # so that certificate verification still checks the real host name.
        request_url = url if ip is None else url.copy_with(host=ip)
        headers = {} if ip is None else {"Host": url.netloc.decode("ascii")}
        extensions: dict[str, Any] = {} if ip is None else {"sni_hostname": url.host}
        try:
            with client.stream("GET", request_url, headers=headers, extensions=extensions) as resp:
                if resp.is_redirect:
                    return resp
                deadline = time.monotonic() + max(settings.connect_timeout, 0.1)
                body = bytearray()
                for chunk in resp.iter_bytes():
                    body += chunk
                    if len(body) > MAX_BODY:
                        raise FetchError(f"{url} sent more than {MAX_BODY} bytes")
                    if time.monotonic() > deadline:
                        raise FetchError(f"{url} took too long to send its answer")
                return HttpAnswer(resp.status_code, bytes(body), str(url))
        except httpx.ConnectError as exc:
            last = exc  # try the next address
        except httpx.TimeoutException as exc:
            raise FetchError(f"{url} timed out") from exc
        except httpx.HTTPError as exc:
            raise FetchError(f"{url}: {exc}") from exc
    raise FetchError(f"cannot connect to {url.host}: {last}")


def http_get(
    url: str,
    settings: Settings,
    resolver: dns.resolver.Resolver,
    *,
    guard: Guard | None = None,
) -> HttpAnswer:
    """GET ``url`` with timeouts everywhere, following redirects only to https URLs.

    ``guard`` for a URL a user chose (their domain's autoconfig): every hop, redirects too,
    may only reach the addresses the guard allows. The ISPDB's URL is the administrator's.
    """
    current = httpx.URL(url)
    timeout = httpx.Timeout(max(settings.connect_timeout, 0.1))
    with httpx.Client(
        timeout=timeout,
        follow_redirects=False,
        trust_env=settings.dns_server is None,
        headers={"Accept": "application/xml, text/xml;q=0.9, */*;q=0.1"},
    ) as client:
        for _ in range(MAX_REDIRECTS + 1):
            answer = _get_once(client, current, settings, resolver, guard)
            if isinstance(answer, HttpAnswer):
                return answer
            target = current.join(answer.headers.get("location", ""))
            if target.scheme != "https":
                raise FetchError(f"{current} redirects to {target}, which is not https")
            current = target
    raise FetchError(f"{url}: more than {MAX_REDIRECTS} redirects")


# --- ISPDB with a file cache --------------------------------------------------------------


@dataclass(frozen=True)
class IspdbAnswer:
    """What the ISPDB says about a domain. ``config`` is None when it has no entry."""

    domain: str
    url: str
    config: ClientConfig | None
    from_cache: bool = False
    notes: tuple[str, ...] = field(default=())


def _cache_path(settings: Settings, domain: str) -> Path:
    if not _SAFE_DOMAIN.match(domain) or ".." in domain:
        raise ValueError(f"refusing to cache an odd domain name: {domain!r}")
    return settings.cache_dir / "ispdb" / f"{domain}.json"


def _read_cache(path: Path, url: str, domain: str, now: float) -> IspdbAnswer | str | None:
    """A fresh cached answer, None for no (or a stale) entry, or a note when it was corrupt.

    The file is ours but lives on disk for days: anything unexpected in it (truncated JSON, a
    different ISPDB URL, a date in the future, XML that no longer parses) means "not cached".
    """
    try:
        raw: Any = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        return f"ignored a corrupt ISPDB cache file ({exc.__class__.__name__})"
    try:
        fetched_at = float(raw["fetched_at"])
        status = raw["status"]
        if raw["format"] != _CACHE_FORMAT or raw["url"] != url or fetched_at > now + 3600:
            return None
        ttl = POSITIVE_TTL if status == "found" else NEGATIVE_TTL
        if now - fetched_at > ttl:
            return None
        if status == "missing":
            return IspdbAnswer(domain, url, None, from_cache=True)
        if status != "found" or not isinstance(raw["xml"], str):
            raise ValueError(f"unknown status {status!r}")
        config = parse_client_config(raw["xml"], domain)
    except (KeyError, TypeError, ValueError) as exc:
        return f"ignored a corrupt ISPDB cache file ({exc.__class__.__name__})"
    return IspdbAnswer(domain, url, config, from_cache=True)


def _write_cache(
    settings: Settings, path: Path, url: str, xml: str | None, now: float
) -> str | None:
    """Store an answer atomically; a cache that cannot be written is only worth a note.

    The data home and the cache folders are created 0700 through :func:`private_dir`: with
    default permissions the home of the key file and the database would be readable by others
    (the entries are 0600: ``mkstemp`` makes them so).
    """
    entry = {
        "format": _CACHE_FORMAT,
        "url": url,
        "fetched_at": now,
        "status": "missing" if xml is None else "found",
        "xml": xml,
    }
    tmp: str | None = None
    try:
        private_dir(settings, path.parent)  # 0700 each level, like the home
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(entry, handle)
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        return f"could not write the ISPDB cache: {exc}"
    return None


def fetch_ispdb(
    domain: str,
    settings: Settings,
    resolver: dns.resolver.Resolver,
    *,
    now: float | None = None,
) -> IspdbAnswer:
    """Ask the ISPDB (``{settings.ispdb_url}{domain}``), through the cache.

    A 404 is a real answer ("no entry") and is cached for a day; an entry is cached for a week.
    Anything else (no connection, a 5xx, an unreadable document) raises :class:`FetchError` or
    :class:`AutoconfigError` and is not cached, so the next attempt asks again.
    """
    now = time.time() if now is None else now
    url = f"{settings.ispdb_url}{quote(domain, safe='.-')}"
    path = _cache_path(settings, domain)
    cached = _read_cache(path, url, domain, now)
    if isinstance(cached, IspdbAnswer):
        return cached
    notes = [cached] if cached else []
    answer = http_get(url, settings, resolver)
    if answer.status in (404, 410):
        config, xml = None, None
    elif answer.status == 200:
        xml = answer.body.decode("utf-8", errors="replace")
        config = parse_client_config(answer.body, domain)
    else:
        raise FetchError(f"the ISPDB answered HTTP {answer.status} for {domain}")
    if note := _write_cache(settings, path, url, xml, now):
        notes.append(note)
    return IspdbAnswer(domain, url, config, notes=tuple(notes))


# --- the domain's own autoconfig ----------------------------------------------------------


@dataclass(frozen=True)
class AutoconfigPorts:
    """Where the domain's web servers listen; only tests change these."""

    https: int = 443
    http: int = 80


def autoconfig_urls(
    address: str, domain: str, *, https_only: bool, ports: AutoconfigPorts | None = None
) -> list[str]:
    """The URLs Thunderbird tries for a domain's own config, https first."""
    ports = ports or AutoconfigPorts()
    query = quote(address, safe="@")
    schemes = [("https", ports.https, 443)]
    if not https_only:
        schemes.append(("http", ports.http, 80))
    urls: list[str] = []
    for scheme, port, default in schemes:
        suffix = "" if port == default else f":{port}"
        urls.append(
            f"{scheme}://autoconfig.{domain}{suffix}/mail/config-v1.1.xml?emailaddress={query}"
        )
        urls.append(f"{scheme}://{domain}{suffix}/.well-known/autoconfig/mail/config-v1.1.xml")
    return urls


def fetch_domain_autoconfig(
    address: str,
    domain: str,
    settings: Settings,
    resolver: dns.resolver.Resolver,
    *,
    ports: AutoconfigPorts | None = None,
) -> tuple[ClientConfig | None, str | None, list[str]]:
    """The first of the domain's autoconfig URLs that serves a config with an IMAP server.

    Returns ``(config, url, notes)``; notes say why each URL tried before it failed.
    """
    notes: list[str] = []
    urls = autoconfig_urls(address, domain, https_only=settings.autoconfig_https_only, ports=ports)
    # The user's domain picks these hosts: never let it point the server into its own network.
    guard = Guard.from_settings(settings)
    for url in urls:
        try:
            answer = http_get(url, settings, resolver, guard=guard)
            if answer.status != 200:
                notes.append(f"{url}: HTTP {answer.status}")
                continue
            config = parse_client_config(answer.body, domain)
        except (FetchError, AutoconfigError) as exc:
            notes.append(f"{url}: {exc}")
            continue
        if config.imap:
            return config, url, notes
        notes.append(f"{url}: no usable IMAP server ({'; '.join(config.skipped) or 'none listed'})")
    return None, None, notes
