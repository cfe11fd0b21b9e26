"""A provider's guide as plain data: what the wizard, the help center and the API all show.

The catalog holds the facts (servers, app-password rules, the provider's own error texts); this
module arranges them in the order a person needs them (can it work at all, what to switch on, how
to get the password, what it looks like, which servers) and adds one troubleshooting section per
diagnosis code. Keeping it in one place means the connect wizard, ``/help/providers/{id}`` and
``GET /api/v1/providers/{id}`` can never disagree about a provider.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from mailmatch.accounts.advice import advice_for
from mailmatch.accounts.diagnosis import MESSAGES
from mailmatch.errors import Code
from mailmatch.providers.app_passwords import format_hint, policy_line, with_article
from mailmatch.providers.catalog import Catalog
from mailmatch.providers.models import (
    AppPasswordPolicy,
    Protocol,
    Provider,
    Security,
    Server,
    UsernameForm,
)


class Group(StrEnum):
    """How the help index sorts providers: by what the user has to do to connect."""

    APP_PASSWORD = "app_password"
    OWN_PASSWORD = "own_password"
    SPECIAL = "special"


GROUP_TITLES = {
    Group.APP_PASSWORD: "Needs an app password",
    Group.OWN_PASSWORD: "Works with the mailbox's own password",
    Group.SPECIAL: "Special cases: a bridge, or no password logins at all",
}

GROUP_BLURBS = {
    Group.APP_PASSWORD: "Generate a separate password for mailmatch in the provider's security "
    "settings. Your usual password is refused over IMAP and SMTP.",
    Group.OWN_PASSWORD: "No app-password scheme is known: sign in with the password of the "
    "mailbox itself. Some of these need IMAP switched on first.",
    Group.SPECIAL: "Read these before you try: one needs a program running on your computer, "
    "the others cannot be connected with a password at all.",
}

POLICY_LABELS = {
    AppPasswordPolicy.REQUIRED: "App password required",
    AppPasswordPolicy.WITH_2FA: "App password with 2-step sign-in",
    AppPasswordPolicy.OPTIONAL: "App password recommended",
    AppPasswordPolicy.MAILBOX_PASSWORD: "Mailbox password",
    AppPasswordPolicy.ACCOUNT_PASSWORD: "Account password",
    AppPasswordPolicy.BRIDGE: "Bridge password",
    AppPasswordPolicy.NOT_SUPPORTED: "Cannot connect",
}

#: Headings for the troubleshooting sections, in the order people meet the failures.
TROUBLE_TITLES: dict[Code, str] = {
    Code.AUTH_FAILED: "The username or password was refused",
    Code.ACCOUNT_BLOCKED: "The provider has blocked the account",
    Code.APP_PASSWORD_REQUIRED: "An app password is needed",
    Code.IMAP_DISABLED: "IMAP is switched off",
    Code.OAUTH_REQUIRED: "Password logins are switched off",
    Code.HOST_NOT_FOUND: "The server name does not exist",
    Code.CONNECTION_REFUSED: "The connection was refused",
    Code.TIMEOUT: "The server did not answer in time",
    Code.TLS_ERROR: "The secure connection could not be set up",
    Code.RATE_LIMITED: "Too many logins or connections",
    Code.SERVER_ERROR: "The server failed unexpectedly",
}

# For the general troubleshooting on /help: advice is written around a server, and "your IMAP
# server" reads naturally where a host name would go.
_ANY_SERVER = Server("your IMAP server", 993, Security.SSL)


def group_of(provider: Provider) -> Group:
    policy = provider.app_password.policy
    if policy in (AppPasswordPolicy.BRIDGE, AppPasswordPolicy.NOT_SUPPORTED):
        return Group.SPECIAL
    if policy in (AppPasswordPolicy.REQUIRED, AppPasswordPolicy.WITH_2FA):
        return Group.APP_PASSWORD
    return Group.OWN_PASSWORD


def trouble_anchor(code: Code | str) -> str:
    """The fragment id of a code's troubleshooting section (stable: links and the API use it)."""
    return f"trouble-{code}"


def help_url(code: Code | str, provider_id: str | None) -> str:
    """Where a diagnosis links to: the provider's own section, else the general one."""
    page = f"/help/providers/{provider_id}" if provider_id else "/help"
    return f"{page}#{trouble_anchor(code)}"


@dataclass(frozen=True)
class ProviderText:
    """One of the provider's own refusal texts, verbatim, and what it means."""

    protocol: str
    text: str
    meaning: str


@dataclass(frozen=True)
class Trouble:
    """One troubleshooting section: a diagnosis code as the user meets it."""

    code: Code
    title: str
    message: str
    advice: list[str]
    provider_texts: list[ProviderText] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        return trouble_anchor(self.code)


@dataclass(frozen=True)
class Guide:
    """Everything a person reads before connecting a mailbox at ``provider``."""

    provider: Provider
    group: Group
    policy_label: str
    policy_line: str
    format_hint: str | None
    username_line: str
    troubles: list[Trouble]

    @property
    def id(self) -> str:
        return self.provider.id

    @property
    def name(self) -> str:
        return self.provider.name

    @property
    def policy(self) -> AppPasswordPolicy:
        return self.provider.app_password.policy

    @property
    def connect_label(self) -> str:
        """The button's words: "Connect an iCloud Mail mailbox", never "a iCloud"."""
        return f"Connect {with_article(self.name)} mailbox"

    @property
    def can_connect(self) -> bool:
        """False where no password of any kind works (Outlook.com): the wizard stops there."""
        return self.policy is not AppPasswordPolicy.NOT_SUPPORTED

    @property
    def needs_app_password(self) -> bool:
        return self.provider.app_password.required

    @property
    def is_bridge(self) -> bool:
        return self.policy is AppPasswordPolicy.BRIDGE

    @property
    def badge(self) -> str:
        """The badge colour class for the policy."""
        if self.policy is AppPasswordPolicy.NOT_SUPPORTED:
            return "bad"
        if self.group is Group.SPECIAL:
            return "warn"
        return "info" if self.group is Group.APP_PASSWORD else "ok"


def _username_line(provider: Provider) -> str:
    if provider.username is UsernameForm.LOCALPART:
        line = "The part of the address before the @ (e.g. anna for anna@example.org)."
    else:
        line = "The full email address."
    return f"{line} {provider.username_note}" if provider.username_note else line


def troubles_for(provider: Provider | None) -> list[Trouble]:
    """One section per diagnosis code, with the provider's own texts for that code."""
    sections = []
    server = provider.imap[0] if provider and provider.imap else _ANY_SERVER
    for code, title in TROUBLE_TITLES.items():
        advice = advice_for(code, protocol=Protocol.IMAP, server=server, provider=provider)
        if code is Code.TLS_ERROR:  # the self-signed case is the one people can fix themselves
            advice += advice_for(
                code,
                protocol=Protocol.IMAP,
                server=server,
                provider=provider,
                tls_detail="untrusted",
            )
        texts = [
            ProviderText(str(e.protocol).upper(), e.example or e.match, e.meaning)
            for e in (provider.known_errors if provider else ())
            if e.code == code
        ]
        sections.append(Trouble(code, title, MESSAGES[code], advice, texts))
    return sections


def guide_for(provider: Provider) -> Guide:
    return Guide(
        provider=provider,
        group=group_of(provider),
        policy_label=POLICY_LABELS[provider.app_password.policy],
        policy_line=policy_line(provider),
        format_hint=format_hint(provider.app_password.format),
        username_line=_username_line(provider),
        troubles=troubles_for(provider),
    )


def _haystack(provider: Provider) -> str:
    regions = " ".join(r.name + " " + " ".join(r.domains) for r in provider.regions)
    return f"{provider.id} {provider.name} {' '.join(provider.domains)} {regions}".lower()


def search(catalog: Catalog, query: str | None) -> list[Provider]:
    """Providers whose name, id or domains contain every word of ``query``, by name."""
    words = (query or "").lower().replace("@", " ").split()
    found = [p for p in catalog if all(w in _haystack(p) for w in words)]
    return sorted(found, key=lambda p: p.name.lower())


def grouped(providers: list[Provider]) -> list[tuple[Group, list[Provider]]]:
    """``providers`` under their group headings, groups in a fixed order, empty ones left out."""
    by_group: dict[Group, list[Provider]] = {g: [] for g in Group}
    for provider in providers:
        by_group[group_of(provider)].append(provider)
    return [(g, items) for g, items in by_group.items() if items]
