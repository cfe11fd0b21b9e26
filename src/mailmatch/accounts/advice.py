"""Next steps for each diagnosis code, in the provider's own terms.

Advice is built from the catalog (generate URL, IMAP switch, regional servers, ports), so adding
a provider to ``catalog.json`` improves every message without touching code.

The same advice is read in a terminal and on web pages, which have different controls: the CLI
has ``--imap-port`` and ``mailmatch accounts set-password``, the wizard has a Port field and a
Test connection button. Only the few sentences that name a control differ, so those go through
:class:`Say` (one per :class:`Surface`); every other text exists once.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from mailmatch.accounts.certificate import PeerCertificate
from mailmatch.errors import Code
from mailmatch.providers.models import AppPasswordPolicy, Protocol, Provider, Security, Server


class Surface(StrEnum):
    """Where the advice will be read: it names that place's controls."""

    CLI = "cli"
    WIZARD = "wizard"  # /connect: server fields, password field, Test connection
    ACCOUNTS = "accounts"  # /accounts: Test now, Change password; servers are fixed there


_SECURITY_LABELS = {"ssl": "SSL/TLS", "starttls": "STARTTLS", "plain": "None"}


@dataclass(frozen=True)
class Say:
    """The control-naming phrases of one surface."""

    surface: Surface = Surface.CLI

    def set_password(self) -> str:
        return {
            Surface.CLI: "Then paste it with: mailmatch accounts set-password NAME",
            Surface.WIZARD: "Then paste it in the password field and select Test connection.",
            Surface.ACCOUNTS: "Then paste it under Change password: it is tested right away.",
        }[self.surface]

    def retest(self) -> str:
        return {
            Surface.CLI: "Then run: mailmatch accounts test NAME",
            Surface.WIZARD: "Then select Test connection again.",
            Surface.ACCOUNTS: "Then select Test now.",
        }[self.surface]

    def show_settings(self) -> str:
        if self.surface is Surface.CLI:
            return "Run: mailmatch providers show ADDRESS to see the discovered settings."
        return "The help center (/help) lists the servers of every provider mailmatch knows."

    def setting(self, protocol: Protocol, name: str, value: object | None = None) -> str:
        """One server setting, e.g. ``--imap-security starttls`` or "IMAP Security: STARTTLS"."""
        if self.surface is Surface.CLI:
            return f"--{protocol.value}-{name}" + (f" {value}" if value is not None else "")
        label = f"the {protocol.value.upper()} {name.capitalize()} setting"
        if value is not None:
            label += f" ({_SECURITY_LABELS.get(str(value), value)})"
        return label

    def change_servers(self) -> list[str]:
        """On the accounts page servers cannot be edited: say how to change them."""
        if self.surface is Surface.ACCOUNTS:
            return ["To change a server setting, remove this account and connect it again."]
        return []

    def pin(self, cert: PeerCertificate) -> str:
        """The wizard shows the certificate (and its fingerprint) right below the advice."""
        return {
            Surface.CLI: f"run the command again with --cert-fingerprint {cert.fingerprint}",
            Surface.WIZARD: "select Trust this certificate below (it fills in the Certificate "
            "fingerprint field), then Test connection again",
            Surface.ACCOUNTS: "remove this account and connect it again with Certificate "
            f"fingerprint {cert.fingerprint}",
        }[self.surface]

    def use_host(self, protocol: Protocol, host: str) -> str:
        """Connect by the name the certificate is valid for: the one change that fixes it."""
        label = protocol.value.upper()
        return {
            Surface.CLI: f"Connect by that name: run the command again with "
            f"--{protocol.value}-host {host}.",
            Surface.WIZARD: f"Type {host} in the {label} Server field, then select Test "
            "connection again.",
            Surface.ACCOUNTS: f"Remove this account and connect it again with {label} server "
            f"{host}.",
        }[self.surface]

    def use_port(self, other: Server) -> str:
        if self.surface is Surface.CLI:
            return (
                f"Port {other.port} ({other.security}) works: use --smtp-port {other.port} "
                f"--smtp-security {other.security}."
            )
        return f"Port {other.port} ({other.security}) works: mailmatch will use it."


STANDARD_PORTS = {
    Protocol.IMAP: ((993, Security.SSL), (143, Security.STARTTLS)),
    Protocol.SMTP: ((465, Security.SSL), (587, Security.STARTTLS)),
}


def _generate(provider: Provider, say: Say) -> list[str]:
    rule = provider.app_password
    lines: list[str] = []
    if rule.prerequisites:
        lines.append("Before you can create one: " + "; ".join(rule.prerequisites) + ".")
    where = rule.generate_url or rule.help_url
    if where:
        lines.append(f"Generate an app-specific password for {provider.name} at {where}")
    lines.extend(f"{i}. {step}" for i, step in enumerate(rule.steps, 1))
    if rule.format.display_mask:
        lines.append(f"It looks like {rule.format.display_mask}.")
    lines.append(say.set_password())
    return lines


def _blocked(provider: Provider | None, protocol: Protocol, say: Say) -> list[str]:
    """RFC 5530 [CONTACTADMIN]: the fix is at the provider, not in the password."""
    name = provider.name if provider else "your provider"
    lines = [
        "Pasting the password again will not help: the provider refused this login on purpose.",
        f"Sign in to {name}'s webmail: a locked or suspended account usually says there why "
        "(unusual activity, an unpaid plan, a security check to complete) and how to unlock it.",
    ]
    if provider is not None and provider.imap_switch and protocol is Protocol.IMAP:
        switch = provider.imap_switch
        lines.append(
            f"Make sure IMAP is switched on: {switch.where}"
            + (f" ({switch.url})" if switch.url else "")
        )
    else:
        lines.append(
            "Make sure IMAP access is allowed for this mailbox: at work or school an "
            "administrator may have switched it off."
        )
    lines.append(
        f"If it stays blocked, contact {name}'s support (or your administrator) and quote the "
        "server's words above."
    )
    lines.append(say.retest())
    return lines


def _regions(provider: Provider, protocol: Protocol) -> list[str]:
    lines = []
    for region in provider.regions:
        servers = region.imap if protocol is Protocol.IMAP else region.smtp
        if servers:
            lines.append(f"{region.name}: {servers[0].host}:{servers[0].port}")
    if not lines:
        return []
    return [
        f"{provider.name} accounts must use the server of their own region or data centre: "
        + "; ".join(lines)
    ]


def _alternatives(provider: Provider, protocol: Protocol, server: Server) -> list[str]:
    servers = provider.imap if protocol is Protocol.IMAP else provider.smtp
    others = [s for s in servers if (s.host, s.port) != (server.host, server.port)]
    return [
        f"{provider.name} also offers {s.host}:{s.port} ({s.security})"
        + (f": {s.note}" if s.note else "")
        for s in others
    ]


def _ports(protocol: Protocol, server: Server) -> str:
    options = " or ".join(f"{port} ({sec})" for port, sec in STANDARD_PORTS[protocol])
    return f"{protocol.value.upper()} normally listens on {options}."


def publicly_trusted(provider: Provider | None, server: Server) -> bool:
    """A catalog provider's own public server: its certificate is always publicly trusted.

    Proton Mail Bridge is the exception (a self-signed certificate on this machine), and so is a
    host the catalog does not list for the provider (the user typed their own).
    """
    if provider is None or provider.app_password.policy is AppPasswordPolicy.BRIDGE:
        return False
    servers = [*provider.imap, *provider.smtp]
    for region in provider.regions:
        servers += [*region.imap, *region.smtp]
    return server.host.lower() in {s.host.lower() for s in servers}


#: The TLS failures that are about the certificate, not about the port or the TLS mode.
CERTIFICATE_DETAILS = ("expired", "untrusted", "hostname", "fingerprint")


def _is_bridge(provider: Provider | None) -> bool:
    """Proton Mail Bridge is named only where it is the provider (its own ports on loopback, or
    a Proton address): for any other server the word would send the user looking for it."""
    return provider is not None and provider.app_password.policy is AppPasswordPolicy.BRIDGE


def matching_host(cert: PeerCertificate | None, server: Server) -> str | None:
    """A name the certificate is valid for, to connect by instead of ``server.host``.

    DNS names first (``localhost`` rather than an address), never a wildcard (it is not a host
    one can type); ``None`` when the certificate names nothing else.
    """
    if cert is None:
        return None
    typed = server.host.lower().rstrip(".")
    names = [n for n in cert.names if "*" not in n and n.lower().rstrip(".") != typed]
    dns = [n for n in names if not _is_address(n)]
    candidates = dns or names
    return candidates[0] if candidates else None


def _is_address(name: str) -> bool:
    return name.replace(".", "").isdigit() or ":" in name


def _valid_for(cert: PeerCertificate | None, server: Server) -> str:
    """ "It is valid for localhost, not for 127.0.0.1." when the names do not cover the host."""
    if cert is None or not cert.names or matching_host(cert, server) is None:
        return ""
    if server.host.lower().rstrip(".") in {n.lower().rstrip(".") for n in cert.names}:
        return ""
    return f" It is valid for {', '.join(cert.names)}, not for {server.host}."


def _certificate(
    protocol: Protocol,
    server: Server,
    detail: str,
    provider: Provider | None,
    cert: PeerCertificate | None,
    say: Say,
) -> list[str]:
    """A certificate that failed verification: what is wrong with it, then the one fix."""
    lines: list[str] = []
    bridge = _is_bridge(provider)
    public = publicly_trusted(provider, server)
    other_name = matching_host(cert, server)
    if detail == "expired":
        when = f" (on {cert.not_after:%Y-%m-%d})" if cert else ""
        lines.append(
            f"The server's certificate has expired{when}. Ask the server's administrator to renew "
            "it; mailmatch will not send a password over an unverified connection."
        )
    elif detail == "untrusted":
        made_by = (
            "Proton Mail Bridge makes its own, self-signed one"
            if bridge
            else "a self-signed certificate, as many home servers use"
        )
        lines.append(
            f"The certificate is not signed by an authority this machine trusts ({made_by})."
            + _valid_for(cert, server)
        )
    elif detail == "hostname":
        made_for = f": it is valid for {', '.join(cert.names)}" if cert and cert.names else ""
        lines.append(f"The certificate is not for {server.host}{made_for}.")
        if other_name is not None and not public:
            return [*lines, say.use_host(protocol, other_name)]
    else:
        lines.append(
            "The certificate does not match the pinned fingerprint: the server's certificate "
            "changed."
        )
    if public:
        assert provider is not None
        lines.append(
            f"{provider.name}'s servers present certificates every system trusts, so a "
            f"certificate error here means something between this machine and {provider.name} "
            "is intercepting the connection (a company proxy, antivirus HTTPS scanning, "
            "a hostile network). Do not pin this certificate; connect from another network."
        )
        if detail == "expired":
            lines.append(
                "Check this machine's date and time too: a wrong clock makes valid "
                "certificates look expired."
            )
        return lines
    whose = "Proton Mail Bridge" if bridge else "your server"
    if cert is not None and cert.can_pin:
        if detail == "fingerprint":
            lead = (
                "If you reinstalled Proton Mail Bridge"
                if bridge
                else "If you renewed the certificate yourself"
            ) + " and you recognise the new one, pin it: "
        else:
            lead = (
                "If this is Proton Mail Bridge on this machine"
                if bridge
                else "If this is your own server"
            ) + " and you recognise this certificate, pin it: "
        lines.append(lead + say.pin(cert) + ".")
        if say.surface is not Surface.WIZARD:  # the wizard says it next to its Trust button
            lines.append(
                f"Compare the fingerprint with the one {whose} shows first: pinning a "
                "certificate you do not know is exactly how an interception (man-in-the-middle) "
                "attack gets your password."
            )
    elif say.surface is Surface.CLI:
        lines.append(
            "If you trust this server, give its certificate with --ca-file FILE or pin it with "
            "--cert-fingerprint SHA256."
        )
    else:
        lines.append(
            "If you trust this server, pin its certificate: its SHA-256 fingerprint goes in the "
            "Certificate fingerprint field."
        )
    if detail == "untrusted" and say.surface is Surface.CLI and cert is not None:
        by_name = (
            f", and connect by a name it is valid for (--{protocol.value}-host {other_name})"
            if other_name is not None and _valid_for(cert, server)
            else ""
        )
        lines.append(
            f"Or give the certificate of the authority that signed it with --ca-file FILE{by_name}."
        )
    return lines + say.change_servers()


def _tls(
    protocol: Protocol,
    server: Server,
    detail: str | None,
    provider: Provider | None,
    cert: PeerCertificate | None,
    say: Say,
) -> list[str]:
    sec, port = say.setting(protocol, "security"), say.setting(protocol, "port")
    if detail in CERTIFICATE_DETAILS:
        return _certificate(protocol, server, detail, provider, cert, say)
    if detail == "wrong_mode_ssl":
        return [
            f"Port {server.port} does not start with TLS: it is probably a STARTTLS port. "
            f"Use {say.setting(protocol, 'security', 'starttls')}, or the implicit-TLS port "
            f"with {port}.",
            *say.change_servers(),
        ]
    if detail == "not_tls":
        return [
            f"The server on port {server.port} did not speak TLS; check {sec} and {port}.",
            *say.change_servers(),
        ]
    if detail == "no_starttls":
        return [
            f"The server does not offer STARTTLS on port {server.port}. "
            f"Use the implicit-TLS port ({say.setting(protocol, 'security', 'ssl')}).",
            *say.change_servers(),
        ]
    return [
        f"Check {sec}: ssl for implicit TLS, starttls to upgrade a plain connection.",
        *say.change_servers(),
    ]


def advice_for(
    code: Code,
    *,
    protocol: Protocol,
    server: Server,
    provider: Provider | None,
    tls_detail: str | None = None,
    certificate: PeerCertificate | None = None,
    surface: Surface = Surface.CLI,
) -> list[str]:
    """What to do about ``code``, in ``surface``'s terms (see :class:`Say`)."""
    say = Say(surface)
    advice: list[str] = []
    name = provider.name if provider else "your provider"
    if code is Code.APP_PASSWORD_REQUIRED:
        if provider:
            advice += _generate(provider, say)
        else:
            advice.append(
                "Create an app-specific password in your provider's security settings "
                "(usually after turning on two-step verification)."
            )
            advice.append(say.set_password())
    elif code is Code.AUTH_FAILED:
        advice.append("Check the username and paste the password again.")
        if provider:
            rule = provider.app_password
            if provider.username_note:
                advice.append(f"Username at {name}: {provider.username_note}")
            if rule.policy is AppPasswordPolicy.MAILBOX_PASSWORD:
                advice += list(rule.notes) or [
                    f"{name} uses the mailbox's own email password, not your account login."
                ]
            elif rule.policy in (AppPasswordPolicy.REQUIRED, AppPasswordPolicy.WITH_2FA):
                if rule.policy is AppPasswordPolicy.WITH_2FA and rule.notes:
                    advice.append(rule.notes[0])  # which password, with and without 2-step
                revoked = (
                    " (changing the account password revokes all of them)"
                    if rule.revoked_on_password_change
                    else ""
                )
                advice.append(
                    f"{name} app-specific passwords can be revoked{revoked}: "
                    "if this one worked before, generate a new one."
                )
                advice += _generate(provider, say)
            if provider.imap_switch and protocol is Protocol.IMAP:
                advice.append(f"Make sure IMAP is switched on: {provider.imap_switch.where}")
            advice += _regions(provider, protocol)
        else:
            advice.append(
                "Many providers refuse the account password over IMAP once two-step "
                "verification is on: try an app-specific password."
            )
    elif code is Code.IMAP_DISABLED:
        if provider and provider.imap_switch:
            switch = provider.imap_switch
            advice.append(
                f"Switch IMAP on: {switch.where}" + (f" ({switch.url})" if switch.url else "")
            )
        else:
            advice.append(
                "Turn on IMAP in your webmail settings, or ask your administrator to allow it."
            )
        advice.append(say.retest())
    elif code is Code.ACCOUNT_BLOCKED:
        advice += _blocked(provider, protocol, say)
    elif code is Code.OAUTH_REQUIRED:
        if provider:
            advice += list(provider.app_password.notes)
        advice.append(
            f"{name} no longer accepts passwords (not even app passwords) over IMAP and SMTP; "
            "a password-based connection cannot work. Forward the mail to a mailbox that does."
        )
    elif code is Code.HOST_NOT_FOUND:
        advice.append(f"Check the spelling of {server.host}.")
        if provider:
            default = (provider.imap if protocol is Protocol.IMAP else provider.smtp)[0]
            advice.append(f"{name} uses {default.host}:{default.port} ({default.security}).")
            advice += _regions(provider, protocol)
        advice.append(say.show_settings())
    elif code in (Code.CONNECTION_REFUSED, Code.TIMEOUT):
        if code is Code.TIMEOUT:
            advice.append(
                f"A firewall may be dropping port {server.port}; try the other standard port."
            )
        else:
            advice.append(f"Port {server.port} is closed on {server.host}.")
        advice.append(_ports(protocol, server))
        if provider:
            advice += _alternatives(provider, protocol, server)
            if provider.app_password.policy is AppPasswordPolicy.BRIDGE:
                advice.append("Is Proton Mail Bridge running and signed in on this machine?")
    elif code is Code.TLS_ERROR:
        advice += _tls(protocol, server, tls_detail, provider, certificate, say)
    elif code is Code.RATE_LIMITED:
        advice.append(
            "Wait a while before trying again. mailmatch does not retry a refused login by "
            "itself, so it never makes a lockout worse."
        )
        if provider:
            advice += list(provider.limits)
    elif code is Code.SERVER_ERROR:
        advice.append(
            "Try again later; if it keeps failing, send the server's words above to the "
            "provider's support."
        )
    return advice
