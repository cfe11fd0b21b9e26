"""The connect wizard's service side: test settings without saving, and show a test as checks.

``accounts add`` tests and saves in one go. The wizard (and ``POST /api/v1/accounts/test``) first
tests without saving, so the user sees each step pass or fail before deciding; this is that same
test, built from the same public pieces of :class:`AccountService` (``resolve``, ``run_test``) and
:func:`check_password`, so the wizard can never pass a mailbox that ``accounts add`` would refuse.

:func:`checks_view` turns a :class:`ConnectionTest` into rows for a page: every step the importer
needs, passed, failed or not reached, and the diagnosis with a link to the help page's section
for its code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from mailmatch.accounts.advice import Surface
from mailmatch.accounts.certificate import PeerCertificate
from mailmatch.accounts.probe import ConnectionTest, ProtocolResult
from mailmatch.accounts.service import AccountService, NewAccount
from mailmatch.accounts.tls import TlsOptions, normalize_fingerprint
from mailmatch.errors import Code, InvalidInput
from mailmatch.imap.session import ProbeContext, Step
from mailmatch.providers.app_passwords import PasswordCheck, check_password
from mailmatch.providers.discovery_models import Discovery, Source
from mailmatch.providers.guide import help_url
from mailmatch.providers.models import Protocol, Security

_HEX64 = re.compile(r"^[0-9a-f]{64}$")

#: Where settings came from, as a sentence for the wizard.
SOURCE_TEXT: dict[str, str] = {
    Source.CATALOG: "mailmatch's provider catalog",
    Source.ISPDB: "Thunderbird's ISP database (ISPDB)",
    Source.AUTOCONFIG: "the domain's own autoconfig file",
    Source.SRV: "the domain's DNS SRV records",
    Source.MX: "the domain's MX records, which point at a known provider",
    Source.GUESS: "common server names that answered a test connection",
    Source.MANUAL: "the servers you entered",
}

STEP_LABELS = {
    "connect": "Connect",
    "tls": "Secure connection (TLS)",
    "login": "Log in",
    "capabilities": "Read capabilities",
    "list": "List folders",
    "select": "Open INBOX read-only",
    "ehlo": "Greet the server (EHLO)",
    "session": "Session",
}

_EXPECTED = {
    Protocol.IMAP: ("connect", "tls", "login", "capabilities", "list", "select"),
    Protocol.SMTP: ("connect", "tls", "ehlo", "login"),
}


def valid_fingerprint(value: str | None) -> str | None:
    """A SHA-256 certificate fingerprint in the stored form, or ``None`` when not given.

    Checked here because a malformed pin would only show up later as a baffling TLS failure.
    """
    if value is None or not value.strip():
        return None
    normalized = normalize_fingerprint(value.strip())
    if not _HEX64.match(normalized):
        raise InvalidInput(
            "the certificate fingerprint is not a SHA-256 fingerprint",
            advice=["It has 64 hexadecimal digits, with or without colons, e.g. from: "
                    "openssl x509 -noout -fingerprint -sha256 -in cert.pem"],
        )  # fmt: skip
    return normalized


@dataclass
class Trial:
    """A connection test of settings not yet saved."""

    discovery: Discovery
    password: PasswordCheck
    test: ConnectionTest
    username: str

    @property
    def ok(self) -> bool:
        return self.test.imap.ok and self.test.smtp.working_server is not None


def try_connection(
    service: AccountService,
    request: NewAccount,
    raw_password: str,
    surface: Surface = Surface.WIZARD,
) -> Trial:
    """Resolve, clean the password, and run the same IMAP + SMTP test ``add`` runs."""
    if "@" not in request.address:
        raise InvalidInput(f"not an email address: {request.address!r}")
    found = service.resolve(request)
    check = check_password(raw_password, found.provider)
    if not check.password:
        raise InvalidInput("the password is empty", advice=["Paste the password again."])
    username = request.username or found.username
    smtp_username = request.username or found.username_for(found.smtp)
    ctx = ProbeContext(
        provider=found.provider,
        tls=TlsOptions(
            ca_file=request.ca_file, fingerprint=valid_fingerprint(request.cert_fingerprint)
        ),
        timeout=service.settings.connect_timeout,
        password_looks_like_app_password=check.looks_like_app_password,
        surface=surface,
        inspect_certificate=True,
    )
    test = service.run_test(found.imap, found.smtp, username, smtp_username, check.password, ctx)
    return Trial(found, check, test, username)


@dataclass
class CheckRow:
    label: str
    state: str  # pass | fail | skip
    detail: str
    full: str | None = None  # the whole text when ``detail`` is a summary (capability lists)

    @property
    def mark(self) -> str:
        return {"pass": "✓", "fail": "✗"}.get(self.state, "–")


@dataclass
class ProtocolView:
    """One protocol's part of a test, ready for ``_checks.html``."""

    protocol: str
    server: str
    ok: bool
    rows: list[CheckRow]
    diagnosis: dict[str, Any] | None
    alternative: ProtocolView | None = None
    skipped: bool = False  # not tried at all, on purpose (see ``not_tried``)
    notes: list[str] = field(default_factory=list)  # neutral: why a step was not tried
    ok_notes: list[str] = field(default_factory=list)  # good news: the other port works
    # The certificate a failed TLS step saw, to show and maybe trust; ``same_certificate`` when
    # the other protocol already shows this very certificate (one "Trust" button is enough).
    certificate: PeerCertificate | None = None
    same_certificate: bool = False


def _server_text(result: ProtocolResult) -> str:
    s = result.server
    return f"{s.host}:{s.port} ({s.security})"


def _row(step: Step) -> CheckRow:
    label = STEP_LABELS.get(step.name, step.name)
    if step.name in ("capabilities", "ehlo") and step.ok:
        count = len(step.detail.split())
        return CheckRow(label, "pass", f"{count} extensions", step.detail)
    return CheckRow(label, "pass" if step.ok else "fail", step.detail)


def not_tried(result: ProtocolResult) -> bool:
    """SMTP was skipped because IMAP refused the password (see ``AccountService.run_test``)."""
    return (
        len(result.steps) == 1
        and not result.steps[0].ok
        and result.steps[0].detail.startswith("not tried")
    )


def _tls_at_connect(result: ProtocolResult) -> bool:
    """Implicit TLS failed in the handshake: the TCP connection itself worked."""
    d = result.diagnosis
    return (
        d is not None
        and d.code is Code.TLS_ERROR
        and result.server.security is Security.SSL
        and bool(result.steps)
        and result.steps[0].name == "connect"
        and not result.steps[0].ok
    )


def _rows(result: ProtocolResult) -> list[CheckRow]:
    """The steps as the user should read them: what passed, the one that failed, and a single
    row for everything after it (one "not reached" per step made a failure look like six)."""
    if not_tried(result):
        return [CheckRow(STEP_LABELS["login"], "skip", result.steps[0].detail)]
    if _tls_at_connect(result):
        failed = result.steps[0]
        s = result.server
        rows = [
            CheckRow(STEP_LABELS["connect"], "pass", f"{s.host}:{s.port}"),
            CheckRow(STEP_LABELS["tls"], "fail", failed.detail),
        ]
    else:
        rows = [_row(s) for s in result.steps]
    if not result.ok:
        done = {row.label for row in rows}
        failed_at = any(not s.ok for s in result.steps)
        rest = [
            STEP_LABELS[name]
            for name in _EXPECTED[result.protocol]
            if STEP_LABELS[name] not in done
            and not (name == "tls" and result.server.security is Security.PLAIN)
            and not (name == "capabilities" and not failed_at)
        ]
        if rest:
            others = len(rest) - 1
            after = {0: "", 1: f" (nor {rest[-1].lower()})"}.get(
                others, f" (nor the {others} steps after it)"
            )
            rows.append(CheckRow(rest[0], "skip", "not reached" + after))
    return rows


def protocol_view(result: ProtocolResult, provider_id: str | None) -> ProtocolView:
    d = result.diagnosis
    diagnosis = None
    skipped = not_tried(result)
    if d is not None and not result.ok and not skipped:
        diagnosis = {
            "code": str(d.code),
            "message": d.message,
            "server_text": d.server_text,
            "advice": list(d.advice),
            "help_url": help_url(d.code, provider_id),
        }
    view = ProtocolView(
        protocol=result.protocol.value.upper(),
        server=_server_text(result),
        ok=result.ok,
        rows=_rows(result),
        diagnosis=diagnosis,
        skipped=skipped,
    )
    if diagnosis is not None and d is not None:
        view.certificate = d.certificate
    if skipped and d is not None:
        view.notes.append(d.message)
    if result.alternative is not None:
        view.alternative = protocol_view(result.alternative, provider_id)
        if result.alternative.ok:
            view.ok_notes.append(
                f"{_server_text(result.alternative)} works instead: mailmatch will use it."
            )
    return view


#: SMTP's advice when it failed on the very certificate IMAP shows: saying it all twice only
#: doubled the page.
SAME_CERTIFICATE_ADVICE = (
    "The same certificate as IMAP, with the same problem: the fix above applies to the SMTP "
    "server too."
)


def checks_view(test: ConnectionTest, provider_id: str | None) -> list[ProtocolView]:
    imap, smtp = protocol_view(test.imap, provider_id), protocol_view(test.smtp, provider_id)
    if imap.certificate and smtp.certificate:
        smtp.same_certificate = imap.certificate.fingerprint == smtp.certificate.fingerprint
        same_problem = (
            imap.diagnosis is not None
            and smtp.diagnosis is not None
            and imap.diagnosis["message"] == smtp.diagnosis["message"]
        )
        if smtp.same_certificate and same_problem and smtp.diagnosis is not None:
            smtp.diagnosis["advice"] = [SAME_CERTIFICATE_ADVICE]
            smtp.certificate = None  # shown once, with IMAP's
    return [imap, smtp]


def test_passed(test: ConnectionTest) -> bool:
    """What ``add`` accepts: IMAP works and some SMTP port works (maybe the fallback one)."""
    return test.imap.ok and test.smtp.working_server is not None
