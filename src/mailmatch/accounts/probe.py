"""The connection test: log in to IMAP and SMTP the way the importer will, change nothing.

IMAP: connect (implicit TLS or STARTTLS, certificate verified), capabilities, ID when offered
(NetEase refuses SELECT without it), LOGIN, LIST, read-only EXAMINE of INBOX, LOGOUT.
SMTP: connect, EHLO, STARTTLS when asked, AUTH, QUIT (``mailmatch.smtp.session``, the path
sending mail takes too): no mail is ever sent.

Each protocol is tried once with the password: a refused login is never retried, so a wrong
password cannot lock the user out. Only a transport failure on the SMTP port (closed, timed out,
wrong TLS mode) makes the test try the other standard submission port, and report which works.
A certificate that fails verification is not such a failure: the port answered with TLS, and
another port of the same server presents the same certificate.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from imapclient.exceptions import IMAPClientError

from mailmatch.accounts.advice import CERTIFICATE_DETAILS, STANDARD_PORTS, Say
from mailmatch.accounts.diagnosis import tls_hint
from mailmatch.errors import Code, Diagnosis
from mailmatch.imap.session import (
    Credentials,
    ProbeContext,
    SessionError,
    Step,
    fail_server,
    fail_transport,
    imap_text,
    open_imap,
)
from mailmatch.providers.models import Protocol, Provider, Server
from mailmatch.smtp import session as smtp_session
from mailmatch.smtp.session import open_smtp


@dataclass
class ProtocolResult:
    protocol: Protocol
    server: Server
    ok: bool = False
    steps: list[Step] = field(default_factory=list)
    diagnosis: Diagnosis | None = None
    capabilities: list[str] = field(default_factory=list)
    folders: list[str] = field(default_factory=list)
    classified_by: str | None = None
    alternative: ProtocolResult | None = None  # the other SMTP port, when this one failed

    @property
    def working_server(self) -> Server | None:
        if self.ok:
            return self.server
        if self.alternative is not None and self.alternative.ok:
            return self.alternative.server
        return None

    def to_json(self) -> dict[str, Any]:
        d = self.diagnosis
        data: dict[str, Any] = {
            "ok": self.ok,
            "code": str(d.code) if d else None,
            "message": d.message if d else None,
            "server_text": d.server_text if d else None,
            "advice": list(d.advice) if d else [],
            "certificate": d.certificate.to_json() if d and d.certificate else None,
            "host": self.server.host,
            "port": self.server.port,
            "security": str(self.server.security),
            "steps": [{"name": s.name, "ok": s.ok, "detail": s.detail} for s in self.steps],
            "capabilities": self.capabilities,
        }
        if self.protocol is Protocol.IMAP:
            data["folders"] = self.folders
        if self.classified_by:
            data["classified_by"] = self.classified_by
        if self.alternative is not None:
            data["alternative"] = self.alternative.to_json()
        return data


@dataclass
class ConnectionTest:
    imap: ProtocolResult
    smtp: ProtocolResult

    @property
    def ok(self) -> bool:
        return self.imap.ok and self.smtp.ok

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "imap": self.imap.to_json(), "smtp": self.smtp.to_json()}


def _fail(result: ProtocolResult, error: SessionError) -> ProtocolResult:
    result.diagnosis = error.diagnosis
    result.classified_by = error.classified_by
    return result


def _failed(result: ProtocolResult, error: SessionError) -> ProtocolResult:
    result.steps.append(Step(error.step, False, error.detail))
    return _fail(result, error)


def probe_imap(server: Server, creds: Credentials, ctx: ProbeContext) -> ProtocolResult:
    """Log in, read capabilities and folders, EXAMINE INBOX (read-only), log out."""
    result = ProtocolResult(Protocol.IMAP, server)
    try:
        client = open_imap(server, creds, ctx, result.steps)
    except SessionError as error:
        return _fail(result, error)
    try:
        result.capabilities = sorted(c.decode() for c in client.capabilities())
        result.steps.append(Step("capabilities", True, " ".join(result.capabilities)))
        result.folders = [name for _flags, _delim, name in client.list_folders()]
        result.steps.append(Step("list", True, f"{len(result.folders)} folders"))
        info = client.select_folder("INBOX", readonly=True)
        exists = info.get(b"EXISTS", 0)
        result.steps.append(Step("select", True, f"INBOX read-only, {exists} messages"))
        client.logout()
    except (OSError, EOFError) as exc:
        return _failed(result, fail_transport(Protocol.IMAP, server, exc, ctx, "session"))
    except IMAPClientError as exc:
        return _failed(result, fail_server(Protocol.IMAP, server, ctx, imap_text(exc)))
    finally:
        with contextlib.suppress(OSError):
            client.shutdown()
    result.ok = True
    return result


def _probe_smtp_once(server: Server, creds: Credentials, ctx: ProbeContext) -> ProtocolResult:
    result = ProtocolResult(Protocol.SMTP, server)
    try:
        smtp = open_smtp(server, creds, ctx, result.steps, result.capabilities)
    except SessionError as error:
        return _fail(result, error)
    smtp_session.close(smtp)
    result.ok = True
    return result


TRANSPORT_CODES = frozenset({Code.CONNECTION_REFUSED, Code.TIMEOUT, Code.TLS_ERROR})


def _another_port_may_work(result: ProtocolResult) -> bool:
    """Closed, silent or the wrong TLS mode: yes. A certificate problem: no (same server)."""
    d = result.diagnosis
    if result.ok or d is None or d.code not in TRANSPORT_CODES:
        return False
    if d.code is Code.TLS_ERROR:
        failed = next((s.detail for s in result.steps if not s.ok), "")
        return tls_hint(result.server, failed) not in CERTIFICATE_DETAILS
    return True


def probe_smtp(
    server: Server,
    creds: Credentials,
    ctx: ProbeContext,
    fallbacks: list[Server] | None = None,
) -> ProtocolResult:
    """Test ``server``; on a transport failure, try each fallback until one works."""
    result = _probe_smtp_once(server, creds, ctx)
    if not _another_port_may_work(result) or result.diagnosis is None:
        return result
    for other in fallbacks or []:
        alternative = _probe_smtp_once(other, creds, ctx)
        result.alternative = alternative
        if alternative.ok:
            result.diagnosis.advice.insert(0, Say(ctx.surface).use_port(other))
            break
        if alternative.diagnosis and alternative.diagnosis.code not in TRANSPORT_CODES:
            break  # it reached a login: do not spend another attempt on the password
    return result


def smtp_fallbacks(server: Server, provider: Provider | None) -> list[Server]:
    """The other standard submission port on the same host (465 implicit TLS <-> 587 STARTTLS)."""
    candidates: list[Server] = []
    if provider is not None:
        candidates += [s for s in provider.smtp if s.host == server.host and s.port != server.port]
    for port, security in STANDARD_PORTS[Protocol.SMTP]:
        if port != server.port and all(c.port != port for c in candidates):
            candidates.append(Server(server.host, port, security))
    return candidates
