"""The provider catalog: a JSON file shipped inside the package, loaded into dataclasses.

The file is the project's own format (see ``catalog.json``'s top-level ``format`` notes). It is
loaded once per process; lookups are by exact domain, by MX host suffix and by id.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from importlib import resources
from typing import Any

from mailmatch.providers.models import (
    AppPasswordPolicy,
    AppPasswordRule,
    ImapSwitch,
    KnownError,
    PasswordFormat,
    Protocol,
    Provider,
    Region,
    Security,
    Server,
    UsernameForm,
)


def _server(data: dict[str, Any]) -> Server:
    username = data.get("username")
    return Server(
        host=data["host"],
        port=int(data["port"]),
        security=Security(data["security"]),
        note=data.get("note"),
        username=UsernameForm(username) if username else None,
    )


def _servers(items: list[dict[str, Any]] | None) -> tuple[Server, ...]:
    return tuple(_server(item) for item in items or [])


def _app_password(data: dict[str, Any]) -> AppPasswordRule:
    fmt = data.get("format") or {}
    return AppPasswordRule(
        policy=AppPasswordPolicy(data["policy"]),
        format=PasswordFormat(
            length=fmt.get("length"),
            groups=tuple(fmt.get("groups") or ()),
            separator=fmt.get("separator"),
            charset=fmt.get("charset"),
            display_mask=fmt.get("display_mask"),
            case_sensitive=fmt.get("case_sensitive", True),
        ),
        generate_url=data.get("generate_url"),
        help_url=data.get("help_url"),
        prerequisites=tuple(data.get("prerequisites") or ()),
        steps=tuple(data.get("steps") or ()),
        revoke_steps=tuple(data.get("revoke_steps") or ()),
        max_active=data.get("max_active"),
        revoked_on_password_change=data.get("revoked_on_password_change"),
        notes=tuple(data.get("notes") or ()),
    )


def provider_from_dict(data: dict[str, Any]) -> Provider:
    switch = data.get("imap_switch")
    return Provider(
        id=data["id"],
        name=data["name"],
        domains=tuple(d.lower() for d in data.get("domains") or ()),
        imap=_servers(data["imap"]),
        smtp=_servers(data["smtp"]),
        username=UsernameForm(data.get("username", "email")),
        username_note=data.get("username_note"),
        app_password=_app_password(data["app_password"]),
        mx_suffixes=tuple(s.lower() for s in data.get("mx_suffixes") or ()),
        regions=tuple(
            Region(
                id=r["id"],
                name=r["name"],
                domains=tuple(d.lower() for d in r.get("domains") or ()),
                imap=_servers(r.get("imap")),
                smtp=_servers(r.get("smtp")),
                mx_suffixes=tuple(s.lower() for s in r.get("mx_suffixes") or ()),
                generate_url=r.get("generate_url"),
                help_url=r.get("help_url"),
            )
            for r in data.get("regions") or ()
        ),
        imap_switch=(
            ImapSwitch(
                where=switch["where"],
                url=switch.get("url"),
                default_off=switch.get("default_off", True),
            )
            if switch
            else None
        ),
        known_errors=tuple(
            KnownError(
                protocol=Protocol(e["protocol"]),
                match=e["match"],
                code=e["code"],
                meaning=e["meaning"],
                example=e.get("example"),
            )
            for e in data.get("known_errors") or ()
        ),
        quirks=tuple(data.get("quirks") or ()),
        limits=tuple(data.get("limits") or ()),
        notes=tuple(data.get("notes") or ()),
        sources=tuple(data.get("sources") or ()),
        max_fetch_batch=data.get("max_fetch_batch"),
    )


class Catalog:
    """Lookups over a list of providers."""

    def __init__(self, providers: list[Provider]) -> None:
        self._providers = providers
        self._by_id = {p.id: p for p in providers}
        self._by_domain: dict[str, Provider] = {}
        for provider in providers:
            for domain in provider.domains:
                self._by_domain.setdefault(domain, provider)
            for region in provider.regions:
                for domain in region.domains:
                    self._by_domain.setdefault(domain, provider)

    def __iter__(self) -> Iterator[Provider]:
        return iter(self._providers)

    def __len__(self) -> int:
        return len(self._providers)

    def get(self, provider_id: str) -> Provider | None:
        return self._by_id.get(provider_id)

    def by_domain(self, domain: str) -> Provider | None:
        return self._by_domain.get(domain.lower().rstrip("."))

    def by_mx_host(self, mx_host: str) -> Provider | None:
        """The provider whose mail exchangers end with one of its ``mx_suffixes``."""
        host = mx_host.lower().rstrip(".")
        best: tuple[int, Provider] | None = None
        for provider in self._providers:
            for suffix in provider.mx_suffixes:
                if (host == suffix or host.endswith("." + suffix)) and (
                    best is None or len(suffix) > best[0]
                ):
                    best = (len(suffix), provider)
        return best[1] if best else None


@cache
def load_catalog() -> Catalog:
    """The catalog shipped with the package (parsed once per process)."""
    text = resources.files("mailmatch.providers").joinpath("catalog.json").read_text("utf-8")
    raw = json.loads(text)
    return Catalog([provider_from_dict(p) for p in raw["providers"]])
