"""Find IMAP and SMTP settings for any address, and say where they came from.

The chain, first hit wins: the catalog, the Thunderbird ISPDB, the domain's own autoconfig
file, SRV records (RFC 6186 / RFC 8314), MX records that point at a known provider, and
finally common host names that answer a real probe. Each step that fails (no entry, a DNS
timeout, an unreachable web server) leaves a note and the chain moves on, so one broken step
never hides an answer a later step could give, and the user can read what was tried.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import dns.resolver

from mailmatch.config import Settings
from mailmatch.errors import InvalidInput, NotFound
from mailmatch.providers.autoconfig import (
    AutoconfigPorts,
    FetchError,
    fetch_domain_autoconfig,
    fetch_ispdb,
)
from mailmatch.providers.catalog import Catalog, load_catalog
from mailmatch.providers.discovery_models import Discovery, Source
from mailmatch.providers.dns import (
    DnsError,
    SrvRecord,
    make_resolver,
    resolve_mx,
    resolve_srv,
)
from mailmatch.providers.guess import GuessPorts, guess_servers
from mailmatch.providers.models import Provider, Region, Security, Server, UsernameForm

__all__ = [
    "AutoconfigPorts",
    "GuessPorts",
    "NothingFound",
    "discover",
    "manual_settings",
    "parse_address",
    "provider_for_host",
]

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_GUESS_TIMEOUT = 5.0  # a server that has not greeted within 5 s is no good guess anyway
_ADVICE = [
    "Enter the servers by hand: --imap-host, --imap-port, --imap-security, "
    "--smtp-host, --smtp-port, --smtp-security.",
    "Your provider's help pages list them, usually under 'IMAP settings' or 'email client setup'.",
]


class NothingFound(NotFound):
    """No step found settings; ``notes`` says what each step tried."""

    def __init__(self, message: str, *, notes: list[str]) -> None:
        super().__init__(message, advice=list(_ADVICE))
        self.notes = notes


def parse_address(address: str) -> tuple[str, str]:
    """``(address, domain)``: the address with its domain in lower case, and the domain in
    ASCII (IDNA) form for lookups. Raises :class:`InvalidInput` for anything else."""
    text = address.strip()
    local, at, domain = text.rpartition("@")
    problem = None
    if not at or not local or not domain:
        problem = "it needs the form name@example.org"
    elif any(c.isspace() or ord(c) < 32 for c in text):
        problem = "it contains spaces or control characters"
    elif len(local) > 64:
        problem = "the part before @ is longer than 64 characters"
    if problem is None:
        domain = domain.lower().rstrip(".")
        try:
            ascii_domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            ascii_domain = ""
        labels = ascii_domain.split(".")
        if (
            len(labels) < 2
            or len(ascii_domain) > 253
            or not all(_LABEL.match(label) for label in labels)
            or labels[-1].isdigit()
        ):
            problem = f"{domain!r} is not a domain name"
    if problem is not None:
        raise InvalidInput(
            f"not an email address: {address!r}: {problem}",
            advice=["Give the full address of the mailbox, e.g. anna@example.org."],
        )
    return f"{local}@{domain}", ascii_domain


def _matches(host: str, suffix: str) -> bool:
    return host == suffix or host.endswith("." + suffix)


#: Names of this machine. A catalog server on one of them (Proton Mail Bridge's 127.0.0.1) is a
#: program on this machine, told apart from the user's own servers only by its port.
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


def on_loopback(host: str) -> bool:
    host = host.lower().rstrip(".")
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def provider_for_host(
    catalog: Catalog, host: str, port: int | None = None
) -> tuple[Provider, Region | None] | None:
    """The catalog provider that runs the server ``host``, with the region it serves.

    Exact server names first (``imap.gmx.net`` is GMX's), then names under one of a
    provider's own domains (``imap.mail.me.com`` is under iCloud's ``me.com``). On loopback the
    port must match too: 127.0.0.1:1143 is Proton Mail Bridge, 127.0.0.1:9993 is whatever the
    user runs there (a home server, a test Dovecot), and Bridge's advice would mislead them.
    """
    host = host.lower().rstrip(".")
    loopback = on_loopback(host)

    def runs(servers: tuple[Server, ...]) -> bool:
        if loopback:  # localhost:1143 is Bridge as much as 127.0.0.1:1143 is
            return any(on_loopback(s.host) and s.port == port for s in servers)
        return any(s.host == host for s in servers)

    for provider in catalog:
        for region in provider.regions:
            if runs((*region.imap, *region.smtp)):
                return provider, region
        if runs((*provider.imap, *provider.smtp)):
            return provider, None
    if loopback:
        return None
    for provider in catalog:
        if any(_matches(host, domain) for domain in provider.domains):
            return provider, None
    return None


def _from_provider(
    address: str, source: Source, provider: Provider, region: Region | None, notes: list[str]
) -> Discovery | None:
    imap = (region.imap if region and region.imap else None) or provider.imap
    smtp = (region.smtp if region and region.smtp else None) or provider.smtp
    if not imap or not smtp:
        notes.append(f"the catalog entry {provider.id} lists no IMAP or no SMTP server")
        return None
    return Discovery(
        address=address,
        source=source,
        imap=imap[0],
        smtp=smtp[0],
        username_form=provider.username,
        provider=provider,
        imap_alternatives=list(imap[1:]),
        smtp_alternatives=list(smtp[1:]),
        region=region.id if region else None,
        notes=notes,
    )


def _srv_servers(records: list[tuple[SrvRecord, Security]]) -> list[Server]:
    """Offered records ordered by priority across both services, implicit TLS first on a tie
    (RFC 8314 section 5.1), then by weight."""
    offered = [(r, sec) for r, sec in records if r.offered and r.port]
    offered.sort(key=lambda x: (x[0].priority, x[1] is not Security.SSL, -x[0].weight))
    return [Server(r.target, r.port, sec) for r, sec in offered]


class _Chain:
    """One run of the discovery chain: the shared context and the notes so far."""

    def __init__(
        self,
        address: str,
        domain: str,
        settings: Settings,
        catalog: Catalog,
        *,
        probe_guesses: bool,
        guess_ports: GuessPorts,
        autoconfig_ports: AutoconfigPorts | None,
    ) -> None:
        self.address, self.domain, self.settings, self.catalog = address, domain, settings, catalog
        self.probe_guesses = probe_guesses
        self.guess_ports = guess_ports
        self.autoconfig_ports = autoconfig_ports
        self.notes: list[str] = []
        try:
            self.resolver = make_resolver(settings)
        except DnsError as exc:
            self.notes.append(str(exc))
            self.resolver = dns.resolver.Resolver(configure=False)  # every lookup then fails
            self.resolver.lifetime = 0.1

    @property
    def probe_timeout(self) -> float:
        return min(self.settings.connect_timeout, _GUESS_TIMEOUT)

    def run(self) -> Discovery:
        steps = (self.catalog_step, self.ispdb, self.autoconfig, self.srv, self.mx, self.guess)
        for step in steps:
            found = step()
            if found is not None:
                return found
        raise NothingFound(f"no settings found for {self.address}", notes=self.notes)

    def _smtp_fallback(self, imap_host: str, *, probe: bool) -> Server:
        """An SMTP server when a source named none: a probed guess, else an unverified one."""
        if probe and self.probe_guesses:
            guess = guess_servers(
                self.domain,
                self.resolver,
                timeout=self.probe_timeout,
                ports=self.guess_ports,
                imap=False,
                extra_smtp_hosts=[imap_host],
            )
            if guess.smtp:
                first = guess.smtp[0]
                self.notes.append(f"SMTP {first.host}:{first.port} answered a probe")
                return first
        fallback = Server(imap_host, self.guess_ports.smtp_ssl, Security.SSL, note="unverified")
        self.notes.append(f"no SMTP server found; {imap_host}:{fallback.port} is unverified")
        return fallback

    def _found(
        self,
        source: Source,
        imap: Sequence[Server],
        smtp: Sequence[Server],
        username_form: UsernameForm = UsernameForm.EMAIL,
    ) -> Discovery:
        """A discovery from servers listed best first.

        No SMTP server gets the fallback; the catalog provider running the IMAP server is
        attached so that its app-password advice applies (guessed names are the domain's own).
        """
        if not smtp:
            smtp = [self._smtp_fallback(imap[0].host, probe=source is not Source.GUESS)]
        found = Discovery(
            address=self.address,
            source=source,
            imap=imap[0],
            smtp=smtp[0],
            username_form=username_form,
            imap_alternatives=list(imap[1:]),
            smtp_alternatives=list(smtp[1:]),
            notes=self.notes,
        )
        match = provider_for_host(self.catalog, found.imap.host, found.imap.port)
        if match is not None and source is not Source.GUESS:
            found.provider, region = match
            found.region = region.id if region else None
            found.notes.append(f"{found.imap.host} belongs to {found.provider.name}")
        return found

    def catalog_step(self) -> Discovery | None:
        provider = self.catalog.by_domain(self.domain)
        if provider is None:
            return None
        region = provider.region_for_domain(self.domain)
        where = f" (region {region.name})" if region else ""
        self.notes.append(f"catalog entry for {self.domain}: {provider.name}{where}")
        return _from_provider(self.address, Source.CATALOG, provider, region, self.notes)

    def ispdb(self) -> Discovery | None:
        try:
            answer = fetch_ispdb(self.domain, self.settings, self.resolver)
        except (FetchError, ValueError) as exc:  # ValueError includes AutoconfigError
            self.notes.append(f"ISPDB lookup failed: {exc}")
            return None
        self.notes.extend(answer.notes)
        if answer.config is None:
            self.notes.append(f"the ISPDB has no entry for {self.domain}")
            return None
        if not answer.config.imap:
            skipped = "; ".join(answer.config.skipped) or "no IMAP server listed"
            self.notes.append(f"the ISPDB entry for {self.domain} is of no use here: {skipped}")
            return None
        cached = " (cached)" if answer.from_cache else ""
        self.notes.append(f"ISPDB entry for {self.domain}{cached}")
        config = answer.config
        return self._found(Source.ISPDB, config.imap, config.smtp, config.username_form)

    def autoconfig(self) -> Discovery | None:
        config, url, notes = fetch_domain_autoconfig(
            self.address, self.domain, self.settings, self.resolver, ports=self.autoconfig_ports
        )
        if config is None or url is None:
            self.notes.append(f"no autoconfig file for {self.domain} ({'; '.join(notes)})")
            return None
        self.notes.append(f"autoconfig file at {url}")
        return self._found(Source.AUTOCONFIG, config.imap, config.smtp, config.username_form)

    def _srv(self, service: str, security: Security) -> list[tuple[SrvRecord, Security]]:
        name = f"_{service}._tcp.{self.domain}"
        try:
            records = resolve_srv(self.resolver, name)
        except DnsError as exc:
            self.notes.append(str(exc))
            return []
        if records and not any(r.offered for r in records):
            self.notes.append(f"SRV {name} says the service is not offered")
        return [(r, security) for r in records]

    def srv(self) -> Discovery | None:
        imap = _srv_servers(
            [*self._srv("imaps", Security.SSL), *self._srv("imap", Security.STARTTLS)]
        )
        if not imap:
            self.notes.append(f"no usable IMAP SRV records for {self.domain}")
            return None
        smtp = _srv_servers(
            [*self._srv("submissions", Security.SSL), *self._srv("submission", Security.STARTTLS)]
        )
        self.notes.append(f"SRV records for {self.domain}: IMAP {imap[0].host}:{imap[0].port}")
        return self._found(Source.SRV, imap, smtp)

    def mx(self) -> Discovery | None:
        try:
            records = resolve_mx(self.resolver, self.domain)
        except DnsError as exc:
            self.notes.append(str(exc))
            return None
        if not records:
            self.notes.append(f"no MX records for {self.domain}")
            return None
        best = [r.host for r in records if r.preference == records[0].preference]
        if best == ["."]:
            self.notes.append(f"{self.domain} has a null MX: it accepts no mail")
            return None
        for host in best:
            provider = self.catalog.by_mx_host(host)
            if provider is not None:
                region = provider.region_for_mx_host(host)
                where = f" (region {region.name})" if region else ""
                self.notes.append(f"MX {host} belongs to {provider.name}{where}")
                return _from_provider(self.address, Source.MX, provider, region, self.notes)
        self.notes.append(f"MX {', '.join(best)} is not a provider mailmatch knows")
        return None

    def guess(self) -> Discovery | None:
        if not self.probe_guesses:
            self.notes.append("guessing host names was skipped")
            return None
        result = guess_servers(
            self.domain, self.resolver, timeout=self.probe_timeout, ports=self.guess_ports
        )
        if not result.imap:
            self.notes.append("no common host name answered: " + "; ".join(result.failures))
            return None
        for server in (*result.imap[:1], *result.smtp[:1]):
            self.notes.append(
                f"guessed {server.host}:{server.port} ({server.security}): it answered"
            )
        return self._found(Source.GUESS, result.imap, result.smtp)


def discover(
    address: str,
    settings: Settings,
    *,
    catalog: Catalog | None = None,
    probe_guesses: bool = True,
    guess_ports: GuessPorts | None = None,
    autoconfig_ports: AutoconfigPorts | None = None,
) -> Discovery:
    """Settings for ``address``, from the first source in the chain that knows them.

    ``probe_guesses=False`` skips the last step (it opens connections to guessed hosts);
    ``guess_ports`` and ``autoconfig_ports`` move the probed ports, for tests on loopback.
    Raises :class:`InvalidInput` for a malformed address and :class:`NothingFound` (a
    :class:`NotFound`) when no step found anything.
    """
    normalized, domain = parse_address(address)
    chain = _Chain(
        normalized,
        domain,
        settings,
        catalog if catalog is not None else load_catalog(),
        probe_guesses=probe_guesses,
        guess_ports=guess_ports or GuessPorts(),
        autoconfig_ports=autoconfig_ports,
    )
    return chain.run()


def manual_settings(
    address: str, imap: Server, smtp: Server, catalog: Catalog | None = None
) -> Discovery:
    """Settings the user typed, with the catalog provider attached when one applies.

    The provider is found by the address's domain, else by the IMAP host name, so that a
    Workspace user who types ``imap.gmail.com`` still gets Gmail's app-password advice.
    """
    normalized, domain = parse_address(address)
    catalog = catalog if catalog is not None else load_catalog()
    provider = catalog.by_domain(domain)
    region = provider.region_for_domain(domain) if provider else None
    if provider is None and (match := provider_for_host(catalog, imap.host, imap.port)) is not None:
        provider, region = match
    notes = ["servers entered by hand"]
    if provider is not None:
        notes.append(f"{provider.name}'s advice applies")
    return Discovery(
        address=normalized,
        source=Source.MANUAL,
        imap=imap,
        smtp=smtp,
        username_form=provider.username if provider else UsernameForm.EMAIL,
        provider=provider,
        region=region.id if region else None,
        notes=notes,
    )
