"""The last resort of discovery: try common host names and keep the ones that really answer.

A guess is only worth showing when a server actually spoke the protocol at that name and port,
so every candidate gets a real probe: its name is resolved through discovery's resolver, a TCP
connection is opened with a short timeout, and the greeting is read (``* OK`` for IMAP, ``220``
for SMTP). On implicit-TLS ports the greeting is read over TLS *without* verifying the
certificate: a self-signed or mismatched certificate still tells us that an IMAP server lives
there, and the connection test that follows discovery verifies it properly and explains the
failure. On STARTTLS ports the server must also announce STARTTLS, since mailmatch never logs in
over an unencrypted connection it merely guessed.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import dns.resolver

from mailmatch.providers.dns import DnsError, resolve_host
from mailmatch.providers.models import Protocol, Security, Server

_MAX_REPLY = 64 * 1024  # a greeting or capability list is far smaller; stop a chatty peer
_MAX_WORKERS = 8


@dataclass(frozen=True)
class GuessPorts:
    """The ports tried for each protocol and security; tests point them at loopback servers."""

    imap_ssl: int = 993
    imap_starttls: int = 143
    smtp_ssl: int = 465
    smtp_starttls: int = 587


@dataclass(frozen=True)
class ProbeResult:
    protocol: Protocol
    server: Server
    ok: bool
    detail: str  # the greeting when ok, else why the candidate was rejected

    def describe(self) -> str:
        s = self.server
        return f"{self.protocol.upper()} {s.host}:{s.port} ({s.security}): {self.detail}"


@dataclass
class GuessResult:
    """Candidates that answered, best first, and a line for each one that did not."""

    imap: list[Server] = field(default_factory=list)
    smtp: list[Server] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def imap_candidates(domain: str, ports: GuessPorts | None = None) -> list[Server]:
    """The usual IMAP names, implicit TLS first (RFC 8314 prefers it)."""
    p = ports or GuessPorts()
    return [
        Server(f"imap.{domain}", p.imap_ssl, Security.SSL),
        Server(f"mail.{domain}", p.imap_ssl, Security.SSL),
        Server(f"imap.{domain}", p.imap_starttls, Security.STARTTLS),
        Server(f"mail.{domain}", p.imap_starttls, Security.STARTTLS),
    ]


def smtp_candidates(
    domain: str, ports: GuessPorts | None = None, extra_hosts: Iterable[str] = ()
) -> list[Server]:
    """The usual submission names; ``extra_hosts`` (e.g. the IMAP host) are tried first."""
    p = ports or GuessPorts()
    hosts = list(dict.fromkeys([*extra_hosts, f"smtp.{domain}", f"mail.{domain}"]))
    servers: list[Server] = []
    for host in hosts:
        servers.append(Server(host, p.smtp_ssl, Security.SSL))
        servers.append(Server(host, p.smtp_starttls, Security.STARTTLS))
    return servers


class _ProbeFailed(Exception):
    pass


class _Conversation:
    """Line-oriented reads with one deadline for the whole probe."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline
        self._buffer = b""
        self._received = 0

    def send(self, line: str) -> None:
        self._sock.settimeout(self._remaining())
        self._sock.sendall(line.encode("ascii") + b"\r\n")

    def line(self) -> str:
        while b"\n" not in self._buffer:
            self._sock.settimeout(self._remaining())
            chunk = self._sock.recv(4096)
            if not chunk:
                raise _ProbeFailed("the server closed the connection")
            self._received += len(chunk)
            if self._received > _MAX_REPLY:
                raise _ProbeFailed("the server sent too much without a line break")
            self._buffer += chunk
        raw, _, self._buffer = self._buffer.partition(b"\n")
        return raw.rstrip(b"\r").decode("utf-8", errors="replace")

    def smtp_reply(self) -> list[str]:
        """All lines of one SMTP reply (``250-...`` continues, ``250 ...`` ends)."""
        lines = [self.line()]
        while len(lines[-1]) > 3 and lines[-1][3] == "-":
            lines.append(self.line())
        return lines

    def _remaining(self) -> float:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise _ProbeFailed("timed out")
        return left


def _insecure_context() -> ssl.SSLContext:
    # Deliberately unverified: this only asks "does an IMAP/SMTP server answer here?". The
    # connection test verifies the certificate before any password is sent.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def _talk_imap(conv: _Conversation, security: Security) -> str:
    greeting = conv.line()
    if not greeting.upper().startswith(("* OK", "* PREAUTH")):
        raise _ProbeFailed(f"not an IMAP greeting: {greeting[:80]!r}")
    if security is Security.STARTTLS and "STARTTLS" not in greeting.upper():
        conv.send("m1 CAPABILITY")
        capabilities = ""
        while not (line := conv.line()).upper().startswith("M1 "):
            if line.upper().startswith("* CAPABILITY"):
                capabilities += line.upper()
        if "STARTTLS" not in capabilities.split():
            raise _ProbeFailed("IMAP server does not offer STARTTLS")
    conv.send("m2 LOGOUT")
    return greeting


def _talk_smtp(conv: _Conversation, security: Security) -> str:
    greeting = conv.smtp_reply()
    if not greeting[-1].startswith("220"):
        raise _ProbeFailed(f"not an SMTP greeting: {greeting[-1][:80]!r}")
    if security is Security.STARTTLS:
        conv.send("EHLO mailmatch.invalid")
        reply = conv.smtp_reply()
        if not reply[-1].startswith("250") or not any(
            line[4:].strip().upper() == "STARTTLS" for line in reply
        ):
            raise _ProbeFailed("SMTP server does not offer STARTTLS")
    conv.send("QUIT")
    return greeting[0]


def probe(
    protocol: Protocol, server: Server, resolver: dns.resolver.Resolver, timeout: float
) -> ProbeResult:
    """Connect to ``server`` and check that it greets like an IMAP or SMTP server."""

    def result(ok: bool, detail: str) -> ProbeResult:
        return ProbeResult(protocol, server, ok, detail)

    try:
        addresses = resolve_host(resolver, server.host)
    except DnsError as exc:
        return result(False, str(exc))
    if not addresses:
        return result(False, "does not resolve")
    deadline = time.monotonic() + timeout
    failure = "no address answered"
    for ip in addresses[:3]:
        left = deadline - time.monotonic()
        if left <= 0:
            return result(False, "timed out")
        sockets: list[socket.socket] = []
        try:
            sockets.append(socket.create_connection((ip, server.port), timeout=left))
            if server.security is Security.SSL:
                context = _insecure_context()
                sockets.append(context.wrap_socket(sockets[0], server_hostname=server.host))
            conv = _Conversation(sockets[-1], deadline)
            talk = _talk_imap if protocol is Protocol.IMAP else _talk_smtp
            return result(True, talk(conv, server.security))
        except _ProbeFailed as exc:
            return result(False, str(exc))
        except ssl.SSLError as exc:
            failure = f"TLS handshake failed ({exc.reason or exc})"
        except TimeoutError:
            failure = "timed out"
        except ConnectionRefusedError:
            failure = "connection refused"
        except OSError as exc:
            failure = exc.strerror or str(exc)
        finally:
            for sock in reversed(sockets):
                sock.close()
    return result(False, failure)


def probe_candidates(
    candidates: Sequence[tuple[Protocol, Server]],
    resolver: dns.resolver.Resolver,
    *,
    timeout: float,
) -> GuessResult:
    """Probe every candidate concurrently; keep the input order as the order of preference."""
    guess = GuessResult()
    if not candidates:
        return guess
    workers = min(_MAX_WORKERS, len(candidates))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mailmatch-guess") as pool:
        results = list(pool.map(lambda c: probe(c[0], c[1], resolver, timeout), candidates))
    for res in results:
        if res.ok:
            (guess.imap if res.protocol is Protocol.IMAP else guess.smtp).append(res.server)
        else:
            guess.failures.append(res.describe())
    return guess


def guess_servers(
    domain: str,
    resolver: dns.resolver.Resolver,
    *,
    timeout: float,
    ports: GuessPorts | None = None,
    imap: bool = True,
    smtp: bool = True,
    extra_smtp_hosts: Iterable[str] = (),
) -> GuessResult:
    """Probe the usual host names of ``domain`` for IMAP and/or SMTP."""
    candidates: list[tuple[Protocol, Server]] = []
    if imap:
        candidates += [(Protocol.IMAP, s) for s in imap_candidates(domain, ports)]
    if smtp:
        candidates += [(Protocol.SMTP, s) for s in smtp_candidates(domain, ports, extra_smtp_hosts)]
    return probe_candidates(candidates, resolver, timeout=timeout)
