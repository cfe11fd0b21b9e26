"""REST API: the provider catalog, each provider's guide, and discovery for an address.

The answers are built from :mod:`mailmatch.providers.guide`, the same data the wizard and the help
center show, so a script sees exactly what a person reads.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from mailmatch.accounts.service import NewAccount
from mailmatch.accounts.wizard import SOURCE_TEXT
from mailmatch.errors import NotFound
from mailmatch.providers.discovery import NothingFound
from mailmatch.providers.discovery_models import Discovery
from mailmatch.providers.guide import Guide, guide_for, search
from mailmatch.providers.models import Provider, Security, Server
from mailmatch.web.security import ApiUser, State

router = APIRouter(tags=["providers"])


class ErrorDetail(BaseModel):
    code: str
    message: str
    advice: list[str]


class ApiError(BaseModel):
    """What every failed call answers (see the app's error handlers)."""

    error: ErrorDetail


class ServerOut(BaseModel):
    host: str
    port: int
    security: Security
    note: str | None = None

    @classmethod
    def of(cls, server: Server) -> ServerOut:
        return cls(host=server.host, port=server.port, security=server.security, note=server.note)


class ProviderRef(BaseModel):
    id: str
    name: str


class ProviderSummary(BaseModel):
    id: str
    name: str
    domains: list[str]
    policy: str = Field(description="required, with_2fa, optional, mailbox_password, "
                        "account_password, bridge or not_supported")  # fmt: skip
    policy_label: str
    needs_app_password: bool
    can_connect: bool = Field(description="False where no password of any kind works")
    help_url: str

    @classmethod
    def of(cls, g: Guide) -> ProviderSummary:
        return cls(
            id=g.id,
            name=g.name,
            domains=list(g.provider.domains),
            policy=str(g.policy),
            policy_label=g.policy_label,
            needs_app_password=g.needs_app_password,
            can_connect=g.can_connect,
            help_url=f"/help/providers/{g.id}",
        )


class PasswordFormatOut(BaseModel):
    length: int | None
    groups: list[int]
    separator: str | None
    charset: str | None
    display_mask: str | None
    hint: str | None = Field(description="What the password looks like, as a sentence")


class AppPasswordOut(BaseModel):
    policy: str
    policy_line: str
    required: bool
    generate_url: str | None
    help_url: str | None
    prerequisites: list[str]
    steps: list[str]
    revoke_steps: list[str]
    format: PasswordFormatOut
    max_active: int | None
    revoked_on_password_change: bool | None
    notes: list[str]


class ImapSwitchOut(BaseModel):
    where: str
    url: str | None
    default_off: bool


class RegionOut(BaseModel):
    id: str
    name: str
    domains: list[str]
    imap: list[ServerOut]
    smtp: list[ServerOut]
    generate_url: str | None
    help_url: str | None


class ProviderTextOut(BaseModel):
    protocol: str
    text: str = Field(description="The provider's reply, verbatim")
    meaning: str


class TroubleOut(BaseModel):
    code: str
    anchor: str
    title: str
    message: str
    advice: list[str]
    provider_texts: list[ProviderTextOut]


class ProviderDetail(ProviderSummary):
    imap: list[ServerOut]
    smtp: list[ServerOut]
    username: str = Field(description="email or localpart")
    username_line: str
    app_password: AppPasswordOut
    imap_switch: ImapSwitchOut | None
    regions: list[RegionOut]
    quirks: list[str]
    limits: list[str]
    notes: list[str]
    sources: list[str]
    troubleshooting: list[TroubleOut]


def provider_detail(g: Guide) -> ProviderDetail:
    p, rule = g.provider, g.provider.app_password
    fmt = rule.format
    switch = p.imap_switch
    return ProviderDetail(
        **ProviderSummary.of(g).model_dump(),
        imap=[ServerOut.of(s) for s in p.imap],
        smtp=[ServerOut.of(s) for s in p.smtp],
        username=str(p.username),
        username_line=g.username_line,
        app_password=AppPasswordOut(
            policy=str(rule.policy),
            policy_line=g.policy_line,
            required=rule.required,
            generate_url=rule.generate_url,
            help_url=rule.help_url,
            prerequisites=list(rule.prerequisites),
            steps=list(rule.steps),
            revoke_steps=list(rule.revoke_steps),
            format=PasswordFormatOut(
                length=fmt.length,
                groups=list(fmt.groups),
                separator=fmt.separator,
                charset=fmt.charset,
                display_mask=fmt.display_mask,
                hint=g.format_hint,
            ),
            max_active=rule.max_active,
            revoked_on_password_change=rule.revoked_on_password_change,
            notes=list(rule.notes),
        ),
        imap_switch=(
            ImapSwitchOut(where=switch.where, url=switch.url, default_off=switch.default_off)
            if switch
            else None
        ),
        regions=[
            RegionOut(
                id=r.id,
                name=r.name,
                domains=list(r.domains),
                imap=[ServerOut.of(s) for s in r.imap],
                smtp=[ServerOut.of(s) for s in r.smtp],
                generate_url=r.generate_url,
                help_url=r.help_url,
            )
            for r in p.regions
        ],
        quirks=list(p.quirks),
        limits=list(p.limits),
        notes=list(p.notes),
        sources=list(p.sources),
        troubleshooting=[
            TroubleOut(
                code=str(t.code),
                anchor=t.anchor,
                title=t.title,
                message=t.message,
                advice=t.advice,
                provider_texts=[
                    ProviderTextOut(protocol=e.protocol, text=e.text, meaning=e.meaning)
                    for e in t.provider_texts
                ],
            )
            for t in g.troubles
        ],
    )


class DiscoveryOut(BaseModel):
    address: str
    source: str = Field(description="catalog, ispdb, autoconfig, srv, mx, guess or manual")
    source_text: str
    provider: ProviderRef | None
    region: str | None
    imap: ServerOut
    smtp: ServerOut
    imap_alternatives: list[ServerOut]
    smtp_alternatives: list[ServerOut]
    username: str
    smtp_username: str
    notes: list[str] = Field(description="How the settings were found")
    guide_url: str | None

    @classmethod
    def of(cls, found: Discovery) -> DiscoveryOut:
        provider: Provider | None = found.provider
        return cls(
            address=found.address,
            source=str(found.source),
            source_text=SOURCE_TEXT.get(found.source, str(found.source)),
            provider=ProviderRef(id=provider.id, name=provider.name) if provider else None,
            region=found.region,
            imap=ServerOut.of(found.imap),
            smtp=ServerOut.of(found.smtp),
            imap_alternatives=[ServerOut.of(s) for s in found.imap_alternatives],
            smtp_alternatives=[ServerOut.of(s) for s in found.smtp_alternatives],
            username=found.username,
            smtp_username=found.username_for(found.smtp),
            notes=list(found.notes),
            guide_url=f"/help/providers/{provider.id}" if provider else None,
        )


NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ApiError, "description": "No such object in your workspace"}
}


@router.get("/providers", response_model=list[ProviderSummary])
def providers(
    principal: ApiUser,
    state: State,
    q: Annotated[str | None, Query(max_length=200, description="Name, id or domain")] = None,
) -> list[ProviderSummary]:
    return [ProviderSummary.of(guide_for(p)) for p in search(state.catalog, q)]


@router.get("/providers/{provider_id}", response_model=ProviderDetail, responses=NOT_FOUND)
def provider(provider_id: str, principal: ApiUser, state: State) -> ProviderDetail:
    found = state.catalog.get(provider_id)
    if found is None:
        raise NotFound(f"no provider with id {provider_id!r}", advice=["GET /api/v1/providers"])
    return provider_detail(guide_for(found))


@router.get(
    "/discover",
    response_model=DiscoveryOut,
    responses={404: {"model": ApiError, "description": "No source knew the domain"}},
)
def discover(
    principal: ApiUser,
    state: State,
    address: Annotated[str, Query(min_length=3, max_length=320, description="name@domain")],
) -> DiscoveryOut:
    """Settings for an address: the catalog, ISPDB, autoconfig, SRV, MX, then common names."""
    try:
        found = state.accounts(principal.workspace_id).resolve(NewAccount(address=address))
    except NothingFound as exc:
        raise NotFound(exc.message, advice=[*exc.notes, *exc.advice]) from exc
    return DiscoveryOut.of(found)
