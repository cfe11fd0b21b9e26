"""What discovery answers: settings for one address and where they came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from mailmatch.providers.models import Provider, Server, UsernameForm


class Source(StrEnum):
    """Where a discovered setting came from, in the order discovery tries them."""

    CATALOG = "catalog"
    ISPDB = "ispdb"
    AUTOCONFIG = "autoconfig"  # the domain's own autoconfig.DOMAIN / .well-known file
    SRV = "srv"  # RFC 6186 / RFC 8314 SRV records
    MX = "mx"  # the MX host belongs to a provider in the catalog
    GUESS = "guess"  # common host names that answered a real probe
    MANUAL = "manual"  # the user typed the servers


@dataclass
class Discovery:
    """Settings for one address. ``provider`` is set when a catalog entry applies."""

    address: str
    source: Source
    imap: Server
    smtp: Server
    username_form: UsernameForm
    provider: Provider | None = None
    imap_alternatives: list[Server] = field(default_factory=list)
    smtp_alternatives: list[Server] = field(default_factory=list)
    region: str | None = None
    notes: list[str] = field(default_factory=list)  # how it was found, e.g. "MX mx.zoho.eu"

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2].lower()

    def username_for(self, server: Server) -> str:
        form = server.username or self.username_form
        if form is UsernameForm.LOCALPART and "@" in self.address:
            return self.address.rpartition("@")[0]
        return self.address

    @property
    def username(self) -> str:
        return self.username_for(self.imap)

    def to_json(self) -> dict[str, Any]:
        """The ``providers show --json`` contract."""
        rule = self.provider.app_password if self.provider else None
        app_password: dict[str, Any] = {"required": None, "generate_url": None, "steps": []}
        if rule is not None:
            fmt = rule.format
            app_password = {
                "required": rule.required,
                "policy": str(rule.policy),
                "generate_url": rule.generate_url,
                "help_url": rule.help_url,
                "prerequisites": list(rule.prerequisites),
                "steps": list(rule.steps),
                "revoke_steps": list(rule.revoke_steps),
                "format": {
                    "length": fmt.length,
                    "groups": list(fmt.groups),
                    "separator": fmt.separator,
                    "charset": fmt.charset,
                    "display_mask": fmt.display_mask,
                },
                "max_active": rule.max_active,
                "revoked_on_password_change": rule.revoked_on_password_change,
                "notes": list(rule.notes),
            }
        provider = self.provider
        return {
            "address": self.address,
            "provider": {"id": provider.id, "name": provider.name} if provider else None,
            "source": str(self.source),
            "region": self.region,
            "imap": self.imap.to_json(),
            "smtp": self.smtp.to_json(),
            "imap_alternatives": [s.to_json() for s in self.imap_alternatives],
            "smtp_alternatives": [s.to_json() for s in self.smtp_alternatives],
            "username": self.username,
            "smtp_username": self.username_for(self.smtp),
            "app_password": app_password,
            "imap_switch": (
                {"where": provider.imap_switch.where, "url": provider.imap_switch.url}
                if provider and provider.imap_switch
                else None
            ),
            "quirks": list(provider.quirks) if provider else [],
            "notes": self.notes,
        }
