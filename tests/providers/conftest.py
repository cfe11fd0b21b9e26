"""Real local servers for discovery tests: DNS, HTTP (ISPDB and autoconfig), IMAP/SMTP greeters.

Everything listens on 127.0.0.1 on a free port and is stopped at teardown, so discovery runs
its real code paths (sockets, DNS packets, HTTP, TLS) without touching the internet:

- ``dns_server``: a dnslib server (UDP and TCP on one port) whose records a test sets with
  ``add_a``, ``add_aaaa``, ``add_mx``, ``add_srv``; unknown names are NXDOMAIN.
- ``http_server``: serves ``add_route``-ed bodies by Host and path and counts requests.
- ``ispdb_server``: the same server also answering ``/v1.1/DOMAIN`` from the ISPDB snapshot in
  ``../shared`` (skips when it is absent).
- ``mail_servers``: IMAPS, IMAP+STARTTLS, SMTPS and submission greeters plus matching
  ``GuessPorts``.
- ``make_settings``: ``Settings`` pointed at ``dns_server`` and ``http_server``, with overrides.
"""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import defusedxml.ElementTree as SafeET
import pytest
from dnslib import AAAA, MX, QTYPE, RCODE, RR, SRV, A, DNSRecord
from dnslib.server import DNSHandler, DNSLogger, DNSServer

from mailmatch.config import Settings, load_settings
from mailmatch.providers.guess import GuessPorts

SHARED = (Path(__file__).resolve().parents[2] / ".." / "shared").resolve()
ISPDB_SNAPSHOT = SHARED / "reference" / "providers" / "ispdb"
_POLL = {"poll_interval": 0.05}  # servers notice shutdown() quickly: fast teardown


# --- DNS ----------------------------------------------------------------------------------


def _fqdn(name: str) -> str:
    return name.lower().rstrip(".") + "."


class _TruncatingHandler(DNSHandler):  # type: ignore[misc]
    """Like a real server without EDNS: a UDP answer over 512 bytes comes back empty with TC.

    (dnslib's own truncation drops the question section too, which clients rightly reject.)
    """

    def get_reply(self, data: bytes) -> bytes:
        packed: bytes = super().get_reply(data)
        if self.protocol == "udp" and len(packed) > 512:
            request = DNSRecord.parse(data)
            truncated = request.reply()
            truncated.header.tc = 1
            packed = truncated.pack()
        return packed


class LocalDns:
    """Authoritative for whatever records a test adds; NXDOMAIN for every other name."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, str], list[Any]] = {}
        self.queries: list[tuple[str, str, str]] = []  # (name, type, "udp"/"tcp")
        self._servers: list[DNSServer] = []
        self.port = 0

    def _add(self, name: str, qtype: str, rdata: Any) -> None:
        self.records.setdefault((_fqdn(name), qtype), []).append(rdata)

    def add_a(self, name: str, ip: str = "127.0.0.1") -> None:
        self._add(name, "A", A(ip))

    def add_aaaa(self, name: str, ip: str = "::1") -> None:
        self._add(name, "AAAA", AAAA(ip))

    def add_mx(self, domain: str, preference: int, host: str) -> None:
        self._add(domain, "MX", MX(_fqdn(host) if host != "." else ".", preference))

    def add_srv(
        self, name: str, target: str, port: int, priority: int = 0, weight: int = 0
    ) -> None:
        fqdn = _fqdn(target) if target != "." else "."
        self._add(name, "SRV", SRV(priority, weight, port, fqdn))

    def resolve(self, request: DNSRecord, handler: DNSHandler) -> DNSRecord:
        name, qtype = str(request.q.qname).lower(), QTYPE[request.q.qtype]
        self.queries.append((name, qtype, handler.protocol))
        reply = request.reply()
        if (name, qtype) in self.records:
            for rdata in self.records[(name, qtype)]:
                reply.add_answer(RR(name, getattr(QTYPE, qtype), rdata=rdata, ttl=60))
        elif not any(n == name for n, _ in self.records):
            reply.header.rcode = RCODE.NXDOMAIN
        return reply

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        logger = DNSLogger(logf=lambda *_: None)
        for _attempt in range(10):  # UDP and TCP must get the same free port
            udp = DNSServer(
                self, address="127.0.0.1", port=0, logger=logger, handler=_TruncatingHandler
            )
            port = udp.server.server_address[1]
            try:
                tcp = DNSServer(self, address="127.0.0.1", port=port, tcp=True, logger=logger)
            except OSError:
                udp.server.server_close()
                continue
            self._servers, self.port = [udp, tcp], port
            for server in self._servers:
                threading.Thread(
                    target=server.server.serve_forever, kwargs=_POLL, daemon=True
                ).start()
            return
        raise RuntimeError("no free port for both UDP and TCP")

    def stop(self) -> None:
        for server in self._servers:
            server.server.shutdown()
            server.server.server_close()


@pytest.fixture
def dns_server() -> Iterator[LocalDns]:
    server = LocalDns()
    server.start()
    yield server
    server.stop()


# --- HTTP ---------------------------------------------------------------------------------


@dataclass
class LocalHttp:
    """Routes by (Host, path); ``/v1.1/DOMAIN`` answers from the ISPDB snapshot once loaded."""

    routes: dict[tuple[str, str], tuple[int, bytes, dict[str, str]]] = field(default_factory=dict)
    ispdb: dict[str, Path] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (host, path with query)
    port: int = 0

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def add_route(
        self, host: str, path: str, body: str | bytes, status: int = 200, **headers: str
    ) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.routes[(host, path)] = (status, data, headers)

    def ispdb_requests(self) -> list[str]:
        return [path for _, path in self.requests if path.startswith("/v1.1/")]

    def load_ispdb_snapshot(self, directory: Path) -> None:
        """Map every ``<domain>`` of every file to it, as the real ISPDB service does."""
        for path in sorted(directory.glob("*.xml")):
            root = SafeET.parse(path).getroot()
            for element in root.iter("domain"):
                if element.text and element.text.strip():
                    self.ispdb.setdefault(element.text.strip().lower(), path)

    def answer(self, host: str, path: str) -> tuple[int, bytes, dict[str, str]]:
        self.requests.append((host, path))
        bare = path.partition("?")[0]
        for key in ((host, path), (host, bare), ("*", path), ("*", bare)):
            if key in self.routes:
                return self.routes[key]
        if bare.startswith("/v1.1/") and (file := self.ispdb.get(bare[6:].lower())):
            return 200, file.read_bytes(), {"Content-Type": "text/xml"}
        return 404, b"not found", {}


def _http_handler(state: LocalHttp) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            host = (self.headers.get("Host") or "").rpartition(":")[0] or self.headers.get("Host")
            status, body, headers = state.answer(host or "", self.path)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name.replace("_", "-"), value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def http_server() -> Iterator[LocalHttp]:
    state = LocalHttp()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _http_handler(state))
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs=_POLL, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def ispdb_server(http_server: LocalHttp) -> LocalHttp:
    """``http_server`` also serving the ISPDB snapshot (``make_settings`` already points at it)."""
    if not ISPDB_SNAPSHOT.is_dir():
        pytest.skip(f"the ISPDB snapshot is not there: {ISPDB_SNAPSHOT} (needs ../shared)")
    http_server.load_ispdb_snapshot(ISPDB_SNAPSHOT)
    return http_server


@pytest.fixture
def make_settings(
    tmp_path: Path, dns_server: LocalDns, http_server: LocalHttp
) -> Callable[..., Settings]:
    """``make_settings({"MAILMATCH_AUTOCONFIG_HTTP": "1"})``: settings for a hermetic run."""

    def make(overrides: dict[str, str] | None = None) -> Settings:
        env = {
            "MAILMATCH_HOME": str(tmp_path / "home"),
            "MAILMATCH_CONNECT_TIMEOUT": "2",
            "MAILMATCH_DNS_SERVER": dns_server.address,
            "MAILMATCH_ISPDB_URL": http_server.url("/v1.1/"),
            # The domains' autoconfig servers are this loopback server: open it, as an
            # administrator would open an internal host (mailmatch.net.guard refuses loopback).
            "MAILMATCH_ALLOW_INTERNAL": "127.0.0.1",
        }
        return load_settings({**env, **(overrides or {})})

    return make


# --- IMAP and SMTP greeters -------------------------------------------------------------


@pytest.fixture(scope="session")
def tls_context(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    """A server context with a fresh self-signed certificate (the probe does not verify it)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mail.example.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("tls")
    (directory / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(directory / "cert.pem", directory / "key.pem")
    return context


class Greeter:
    """Says hello like an IMAP or SMTP server and answers CAPABILITY/EHLO, LOGOUT/QUIT."""

    def __init__(
        self, protocol: str, *, tls: ssl.SSLContext | None = None, starttls: bool = True
    ) -> None:
        self.protocol, self.tls, self.starttls = protocol, tls, starttls
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return  # closed at teardown
            self.connections += 1
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            with conn, conn.makefile("rwb") as stream:
                imap = self.protocol == "imap"
                stream.write(b"* OK test IMAP ready\r\n" if imap else b"220 test ESMTP ready\r\n")
                stream.flush()
                for raw in stream:
                    words = raw.decode().upper().split() or ["?"]
                    stream.write(self._reply(words).encode())
                    stream.flush()
                    if words[-1] in ("LOGOUT", "QUIT"):
                        return
        except OSError:
            return

    def _reply(self, words: list[str]) -> str:
        tls = " STARTTLS" if self.starttls else ""
        if self.protocol == "imap":
            tag, command = words[0].lower(), words[-1]
            if command == "CAPABILITY":
                return f"* CAPABILITY IMAP4rev1{tls} AUTH=PLAIN\r\n{tag} OK done\r\n"
            return f"* BYE\r\n{tag} OK done\r\n"
        if words[0] == "EHLO":
            return "250-test\r\n" + ("250-STARTTLS\r\n" if tls else "") + "250 8BITMIME\r\n"
        return "221 bye\r\n"

    def close(self) -> None:
        self.listener.close()


@dataclass
class MailServers:
    imaps: Greeter
    imap: Greeter
    smtps: Greeter
    submission: Greeter

    @property
    def ports(self) -> GuessPorts:
        return GuessPorts(
            imap_ssl=self.imaps.port,
            imap_starttls=self.imap.port,
            smtp_ssl=self.smtps.port,
            smtp_starttls=self.submission.port,
        )


@pytest.fixture
def mail_servers(tls_context: ssl.SSLContext) -> Iterator[MailServers]:
    servers = MailServers(
        imaps=Greeter("imap", tls=tls_context),
        imap=Greeter("imap"),
        smtps=Greeter("smtp", tls=tls_context),
        submission=Greeter("smtp"),
    )
    yield servers
    for greeter in (servers.imaps, servers.imap, servers.smtps, servers.submission):
        greeter.close()
