"""The provider catalog loads, is consistent, and gives each provider's documented settings.

The last test is the acceptance test: for every seed provider the settings mailmatch would use
are the ones the provider's own documentation (or the ISPDB entry built from it) gives. The
table is written out by hand on purpose, with the source of each row, so that a change to
``catalog.json`` that moves a host, a port or a policy shows up here as a diff a reviewer reads.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import NamedTuple

import pytest

from mailmatch.errors import Code
from mailmatch.providers.catalog import load_catalog
from mailmatch.providers.models import (
    AppPasswordPolicy,
    Provider,
    Region,
    Security,
    Server,
    UsernameForm,
)

CATALOG = load_catalog()
PROVIDERS = list(CATALOG)
LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def _all_servers(provider: Provider) -> list[tuple[str, Server]]:
    found = [("imap", s) for s in provider.imap] + [("smtp", s) for s in provider.smtp]
    for region in provider.regions:
        found += [("imap", s) for s in region.imap] + [("smtp", s) for s in region.smtp]
    return found


def test_catalog_loads_with_at_least_thirty_providers() -> None:
    assert len(CATALOG) >= 30


def test_ids_are_unique_snake_case() -> None:
    ids = [p.id for p in PROVIDERS]
    assert len(ids) == len(set(ids))
    for provider_id in ids:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", provider_id), provider_id
    assert CATALOG.get("icloud") is not None


def test_no_domain_is_claimed_by_two_providers() -> None:
    owners: dict[str, set[str]] = defaultdict(set)
    for provider in PROVIDERS:
        claimed = set(provider.domains) | {d for r in provider.regions for d in r.domains}
        for domain in claimed:
            owners[domain].add(provider.id)
    assert {d: o for d, o in owners.items() if len(o) > 1} == {}


def test_domains_are_lower_case_host_names() -> None:
    for provider in PROVIDERS:
        for domain in (*provider.domains, *(d for r in provider.regions for d in r.domains)):
            assert re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", domain), (provider.id, domain)


def test_region_domains_are_also_provider_domains() -> None:
    # A provider's ``domains`` lists everything it serves; regions only say which servers apply.
    for provider in PROVIDERS:
        for region in provider.regions:
            assert set(region.domains) <= set(provider.domains), (provider.id, region.id)


def test_every_provider_and_region_has_servers() -> None:
    for provider in PROVIDERS:
        assert provider.imap and provider.smtp, provider.id
        for region in provider.regions:
            assert region.imap and region.smtp, (provider.id, region.id)


def test_every_server_has_a_sane_port_and_security() -> None:
    for provider in PROVIDERS:
        for protocol, server in _all_servers(provider):
            where = (provider.id, protocol, server.host, server.port)
            assert 0 < server.port < 65536, where
            assert server.host == server.host.strip().lower() and server.host, where
            if server.host in LOOPBACK:
                continue  # local bridges choose their own ports (Proton: 1143 / 1025)
            assert server.security is not Security.PLAIN, where
            if protocol == "imap":
                expected = {Security.SSL: {993}, Security.STARTTLS: {143}}
            else:
                expected = {Security.SSL: {465}, Security.STARTTLS: {587, 25}}
            assert server.port in expected[server.security], where


def test_app_passwords_that_are_needed_say_how_to_get_one() -> None:
    needs = (AppPasswordPolicy.REQUIRED, AppPasswordPolicy.WITH_2FA)
    for provider in PROVIDERS:
        rule = provider.app_password
        if rule.policy in needs:
            assert rule.generate_url or rule.help_url, provider.id
            assert rule.steps, provider.id


def test_urls_are_plain_urls() -> None:
    # No "(Settings > ...)" explanations inside URLs: those belong in the steps.
    def urls(provider: Provider) -> list[str | None]:
        rule = provider.app_password
        found = [rule.generate_url, rule.help_url]
        found += [u for r in provider.regions for u in (r.generate_url, r.help_url)]
        if provider.imap_switch:
            found.append(provider.imap_switch.url)
        return found

    for provider in PROVIDERS:
        for url in urls(provider):
            if url is not None:
                assert re.fullmatch(r"https?://[^\s()]+", url), (provider.id, url)


def test_policies_that_need_an_explanation_have_one() -> None:
    # check_password and the advice show the first note for these policies.
    explained = (
        AppPasswordPolicy.NOT_SUPPORTED,
        AppPasswordPolicy.MAILBOX_PASSWORD,
        AppPasswordPolicy.ACCOUNT_PASSWORD,
        AppPasswordPolicy.BRIDGE,
    )
    for provider in PROVIDERS:
        if provider.app_password.policy in explained:
            assert provider.app_password.notes, provider.id


def test_password_formats_are_usable() -> None:
    for provider in PROVIDERS:
        fmt = provider.app_password.format
        if fmt.charset is not None:
            re.compile(f"[{fmt.charset}]+")
        if fmt.groups and fmt.length is not None:
            assert sum(fmt.groups) == fmt.length, provider.id
        if fmt.display_mask and fmt.length is not None:
            assert len(fmt.display_mask.replace(fmt.separator or "", "")) == fmt.length


def test_every_known_error_has_a_valid_code_and_matches_its_example() -> None:
    codes = {str(code) for code in Code}
    for provider in PROVIDERS:
        for known in provider.known_errors:
            assert known.code in codes, (provider.id, known.code)
            assert known.match and known.meaning, provider.id
            if known.example is not None:
                assert known.match.lower() in known.example.lower(), (provider.id, known.match)


def test_known_errors_carry_the_documented_diagnoses() -> None:
    def code_for(provider_id: str, text: str) -> str:
        provider = CATALOG.get(provider_id)
        assert provider is not None
        for known in provider.known_errors:
            if known.match.lower() in text.lower():
                return known.code
        raise AssertionError(f"{provider_id}: no known error matches {text!r}")

    assert (
        code_for("gmail", "534-5.7.9 Application-specific password required. Learn more")
        == "app_password_required"
    )
    assert (
        code_for("zoho", "NO [ALERT] You are yet to enable IMAP for your account.")
        == "imap_disabled"
    )
    assert (
        code_for(
            "outlook_com",
            "535 5.7.139 Authentication unsuccessful, basic authentication is disabled.",
        )
        == "oauth_required"
    )
    assert (
        code_for("yahoo", "535 5.7.0 (#AUTH005) Too many bad auth attempts.")
        == "app_password_required"
    )
    # Order matters: the specific "account is blocked" wins over the generic "LOGIN failed."
    assert (
        code_for("outlook_com", "NO LOGIN failed. Account is blocked. Login to your account")
        == "auth_failed"
    )


def test_plain_refusals_are_left_to_the_diagnosis_where_a_format_can_tell_more() -> None:
    # Provider texts are matched before anything else and are final. A bare "authentication
    # failed" must stay unmatched at providers with a known app-password format, so that the
    # diagnosis can say "app password required" when the password does not look like one.
    plain = [
        "NO [AUTHENTICATIONFAILED] Authentication failed",
        "NO [AUTHENTICATIONFAILED] Invalid credentials (Failure)",
        "NO [AUTHENTICATIONFAILED] LOGIN Invalid credentials",
    ]
    needs = (AppPasswordPolicy.REQUIRED, AppPasswordPolicy.WITH_2FA)
    for provider in PROVIDERS:
        fmt = provider.app_password.format
        if provider.app_password.policy not in needs or (fmt.length is None and not fmt.charset):
            continue
        for known in provider.known_errors:
            for text in plain:
                assert known.match.lower() not in text.lower(), (provider.id, known.match)


def test_provider_specific_details() -> None:
    yahoo, icloud, outlook = CATALOG.get("yahoo"), CATALOG.get("icloud"), CATALOG.get("outlook_com")
    assert yahoo is not None and icloud is not None and outlook is not None
    assert yahoo.max_fetch_batch == 1000
    # Apple: IMAP logs in with the name part, SMTP with the full address.
    assert icloud.username is UsernameForm.LOCALPART
    assert icloud.smtp[0].username is UsernameForm.EMAIL
    assert icloud.app_password.max_active == 25
    assert icloud.app_password.revoked_on_password_change is True
    assert outlook.app_password.policy is AppPasswordPolicy.NOT_SUPPORTED
    assert any("2024-09-16" in note for note in outlook.app_password.notes)
    proton = CATALOG.by_domain("proton.me")
    assert proton is not None
    assert any("--ca-file" in step for step in proton.app_password.steps)


def test_every_provider_names_its_sources() -> None:
    for provider in PROVIDERS:
        assert provider.sources, provider.id


# --- the acceptance test ----------------------------------------------------------------


class Expected(NamedTuple):
    imap: tuple[str, int, Security]
    smtp: tuple[str, int, Security]
    username: UsernameForm
    policy: AppPasswordPolicy


SSL, STARTTLS = Security.SSL, Security.STARTTLS
EMAIL, LOCALPART = UsernameForm.EMAIL, UsernameForm.LOCALPART
REQUIRED, WITH_2FA = AppPasswordPolicy.REQUIRED, AppPasswordPolicy.WITH_2FA
MAILBOX, BRIDGE = AppPasswordPolicy.MAILBOX_PASSWORD, AppPasswordPolicy.BRIDGE
USUAL = AppPasswordPolicy.ACCOUNT_PASSWORD
NOT_SUPPORTED = AppPasswordPolicy.NOT_SUPPORTED

SEED_DOMAINS: dict[str, Expected] = {
    # https://support.apple.com/HT202304
    # (via ISPDB me.com.xml)
    # https://support.apple.com/en-us/102654
    "icloud.com": Expected(
        ("imap.mail.me.com", 993, SSL), ("smtp.mail.me.com", 587, STARTTLS), LOCALPART, REQUIRED
    ),
    "me.com": Expected(
        ("imap.mail.me.com", 993, SSL), ("smtp.mail.me.com", 587, STARTTLS), LOCALPART, REQUIRED
    ),
    "mac.com": Expected(
        ("imap.mail.me.com", 993, SSL), ("smtp.mail.me.com", 587, STARTTLS), LOCALPART, REQUIRED
    ),
    # https://help.yahoo.com/kb/new-mail-for-desktop/imap-server-settings-yahoo-mail-sln4075.html
    # https://help.yahoo.com/kb/SLN15241.html
    "yahoo.com": Expected(
        ("imap.mail.yahoo.com", 993, SSL), ("smtp.mail.yahoo.com", 465, SSL), EMAIL, REQUIRED
    ),
    # https://hilfe.gmx.net/pop-imap/imap/imap-serverdaten.html
    # https://hilfe.gmx.net/sicherheit/2fa/anwendungsspezifisches-passwort.html
    "gmx.net": Expected(("imap.gmx.net", 993, SSL), ("mail.gmx.net", 465, SSL), EMAIL, WITH_2FA),
    "gmx.de": Expected(("imap.gmx.net", 993, SSL), ("mail.gmx.net", 465, SSL), EMAIL, WITH_2FA),
    # ISPDB gmx.com.xml
    # https://support.gmx.com/security/2fa/application-specific-passwords.html
    "gmx.com": Expected(("imap.gmx.com", 993, SSL), ("mail.gmx.com", 465, SSL), EMAIL, WITH_2FA),
    "gmx.co.uk": Expected(("imap.gmx.com", 993, SSL), ("mail.gmx.com", 465, SSL), EMAIL, WITH_2FA),
    # https://www.zoho.com/mail/help/imap-access.html
    # https://help.zoho.com/portal/kb/articles/manage-application-specific-passwords
    "zoho.com": Expected(("imap.zoho.com", 993, SSL), ("smtp.zoho.com", 465, SSL), EMAIL, WITH_2FA),
    "zoho.eu": Expected(("imap.zoho.eu", 993, SSL), ("smtp.zoho.eu", 465, SSL), EMAIL, WITH_2FA),
    # ISPDB googlemail.com.xml
    # https://support.google.com/accounts/answer/185833
    "gmail.com": Expected(
        ("imap.gmail.com", 993, SSL), ("smtp.gmail.com", 465, SSL), EMAIL, REQUIRED
    ),
    # https://support.microsoft.com/en-us/office/pop-imap-and-smtp-settings-8361e398-8af4-4e97-b147-6c6c4ac95353
    # (password logins off since 2024-09-16)
    "outlook.com": Expected(
        ("outlook.office365.com", 993, SSL),
        ("smtp-mail.outlook.com", 587, STARTTLS),
        EMAIL,
        NOT_SUPPORTED,
    ),
    # ISPDB messagingengine.com.xml
    # https://www.fastmail.help/hc/en-us/articles/360058752854-App-passwords
    "fastmail.com": Expected(
        ("imap.fastmail.com", 993, SSL), ("smtp.fastmail.com", 465, SSL), EMAIL, REQUIRED
    ),
    # https://help.aol.com/articles/how-do-i-use-other-email-applications-to-send-and-receive-my-aol-mail
    "aol.com": Expected(("imap.aol.com", 993, SSL), ("smtp.aol.com", 465, SSL), EMAIL, REQUIRED),
    # https://hilfe.web.de/pop-imap/imap/imap-serverdaten.html
    # https://web.de/email/sicherheit/zwei-faktor-authentifizierung/
    "web.de": Expected(("imap.web.de", 993, SSL), ("smtp.web.de", 465, SSL), LOCALPART, WITH_2FA),
    # ISPDB mail.com.xml
    # https://support.mail.com/security/2fa/application-specific-passwords.html
    "mail.com": Expected(("imap.mail.com", 993, SSL), ("smtp.mail.com", 465, SSL), EMAIL, WITH_2FA),
    # https://www.telekom.de/hilfe/apps-dienste/e-mail/einstellungen/posteingang-postausgang-server
    # https://www.telekom.de/hilfe/festnetz-internet-tv/e-mail/e-mail-adresse-passwoerter-und-sicherheit/passwort-fuer-e-mail-programme-einrichten
    "t-online.de": Expected(
        ("secureimap.t-online.de", 993, SSL), ("securesmtp.t-online.de", 465, SSL), EMAIL, REQUIRED
    ),
    # ISPDB yandex.ru.xml
    # https://yandex.com/support/passport/authorization/app-passwords.html
    "yandex.ru": Expected(
        ("imap.yandex.com", 993, SSL), ("smtp.yandex.com", 465, SSL), EMAIL, WITH_2FA
    ),
    # http://help.mail.ru/mail-help/mailer/mt
    # (via ISPDB mail.ru.xml)
    # https://help.mail.ru/mail/security/protection/external
    "mail.ru": Expected(("imap.mail.ru", 993, SSL), ("smtp.mail.ru", 465, SSL), EMAIL, REQUIRED),
    # https://posteo.de/hilfe/wie-richte-ich-posteo-in-einem-mailprogramm-ein-pop3-imap-und-smtp
    # https://posteo.de/en/help/app-passwords
    "posteo.de": Expected(("posteo.de", 993, SSL), ("posteo.de", 465, SSL), EMAIL, REQUIRED),
    # https://github.com/chatmail/provider-db/blob/ad097ee40579c884e7757de2d3bb0a51f481a32a/_providers/mailbox.org.md
    # https://kb.mailbox.org/en/private/security-and-privacy/e-mail-password
    "mailbox.org": Expected(
        ("imap.mailbox.org", 993, SSL), ("smtp.mailbox.org", 465, SSL), EMAIL, WITH_2FA
    ),
    # ISPDB qq.com.xml
    # https://ashea.com.cn/guandian/2022/1011/707174.html
    # (authorization code only since 2022-11-01)
    "qq.com": Expected(("imap.qq.com", 993, SSL), ("smtp.qq.com", 465, SSL), EMAIL, REQUIRED),
    # ISPDB 163.com.xml / 126.com.xml
    # https://github.com/chatmail/provider-db/blob/ad097ee40579c884e7757de2d3bb0a51f481a32a/_providers/163.md
    "163.com": Expected(("imap.163.com", 993, SSL), ("smtp.163.com", 465, SSL), EMAIL, REQUIRED),
    "126.com": Expected(("imap.126.com", 993, SSL), ("smtp.126.com", 465, SSL), EMAIL, REQUIRED),
    # https://github.com/ProtonMail/proton-bridge/blob/master/internal/vault/types_settings.go
    # (Bridge defaults)
    "proton.me": Expected(
        ("127.0.0.1", 1143, STARTTLS), ("127.0.0.1", 1025, STARTTLS), EMAIL, BRIDGE
    ),
    # ISPDB 1und1.de.xml (legacy 1&1 addresses, part of IONOS)
    "online.de": Expected(
        ("imap.1und1.de", 993, SSL), ("smtp.1und1.de", 465, SSL), EMAIL, WITH_2FA
    ),
}

# IONOS has no consumer domains: discovery reaches it through the customer domain's MX host,
# and the MX host's suffix picks the regional servers.
SEED_MX_HOSTS: dict[str, tuple[str, Expected]] = {
    # FairEmail providers.xml (IONOS US)
    # https://www.ionos.com/help/email/troubleshooting-mail-basicmail-business/changing-a-11-ionos-email-account-password/
    # https://www.ionos.com/help/email/using-webmail/email-activate-and-configure-two-step-verification
    "mx00.ionos.com": (
        "us",
        Expected(("imap.ionos.com", 993, SSL), ("smtp.ionos.com", 465, SSL), EMAIL, WITH_2FA),
    ),
    # FairEmail providers.xml (IONOS UK)
    "mx00.ionos.co.uk": (
        "uk",
        Expected(("imap.ionos.co.uk", 993, SSL), ("smtp.ionos.co.uk", 465, SSL), EMAIL, WITH_2FA),
    ),
    # FairEmail providers.xml (IONOS DE)
    "mx01.ionos.de": (
        "de",
        Expected(("imap.ionos.de", 993, SSL), ("smtp.ionos.de", 465, SSL), EMAIL, WITH_2FA),
    ),
    # https://ionos.fr/assistance/email/mise-en-place-demail-made-in-germany/serveur-entrant
    "mx00.ionos.fr": (
        "fr",
        Expected(("imap.ionos.fr", 993, SSL), ("smtp.ionos.fr", 465, SSL), EMAIL, WITH_2FA),
    ),
    # public IONOS Spain configurations (imap.ionos.es / smtp.ionos.es)
    "mx00.ionos.es": (
        "es",
        Expected(("imap.ionos.es", 993, SSL), ("smtp.ionos.es", 465, SSL), EMAIL, WITH_2FA),
    ),
    # ISPDB 1und1.de.xml lists kundenserver.de as an MX domain of imap.1und1.de
    "mx00.kundenserver.de": (
        "legacy_1und1",
        Expected(("imap.1und1.de", 993, SSL), ("smtp.1und1.de", 465, SSL), EMAIL, WITH_2FA),
    ),
    # Zoho's MX hosts end with the data centre's domain: https://www.zoho.com/mail/help/imap-access.html
    "mx.zoho.eu": (
        "eu",
        Expected(("imap.zoho.eu", 993, SSL), ("smtp.zoho.eu", 465, SSL), EMAIL, WITH_2FA),
    ),
}


def _as_tuple(server: Server) -> tuple[str, int, Security]:
    return (server.host, server.port, server.security)


def _settings(provider: Provider, region: Region | None) -> Expected:
    """What discovery uses: the region's servers when a region applies, else the provider's."""
    imap = region.imap if region and region.imap else provider.imap
    smtp = region.smtp if region and region.smtp else provider.smtp
    return Expected(
        _as_tuple(imap[0]), _as_tuple(smtp[0]), provider.username, provider.app_password.policy
    )


@pytest.mark.parametrize("domain", sorted(SEED_DOMAINS))
def test_every_seed_provider_resolves_to_the_settings_its_own_documentation_gives(
    domain: str,
) -> None:
    provider = CATALOG.by_domain(domain)
    assert provider is not None, domain
    region = provider.region_for_domain(domain)
    assert _settings(provider, region) == SEED_DOMAINS[domain]


@pytest.mark.parametrize("mx_host", sorted(SEED_MX_HOSTS))
def test_seed_providers_reached_by_mx_resolve_to_their_regional_settings(mx_host: str) -> None:
    region_id, expected = SEED_MX_HOSTS[mx_host]
    provider = CATALOG.by_mx_host(mx_host)
    assert provider is not None, mx_host
    region = provider.region_for_mx_host(mx_host)
    assert region is not None and region.id == region_id
    assert _settings(provider, region) == expected


def test_an_ionos_mx_without_a_recorded_region_falls_back_to_the_global_servers() -> None:
    provider = CATALOG.by_mx_host("mx00.ionos.it")
    assert provider is not None and provider.id == "ionos"
    assert provider.region_for_mx_host("mx00.ionos.it") is None
    assert _as_tuple(provider.imap[0]) == ("imap.ionos.com", 993, SSL)


def test_aol_and_yahoo_mx_hosts_are_told_apart() -> None:
    aol, yahoo = (
        CATALOG.by_mx_host("mail.gm0.yahoodns.net"),
        CATALOG.by_mx_host("mta5.am0.yahoodns.net"),
    )
    assert aol is not None and aol.id == "aol"
    assert yahoo is not None and yahoo.id == "yahoo"
