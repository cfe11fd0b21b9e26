"""Small TCP helpers: free and closed ports, a server that never answers, a bare TLS server.

Everything listens on ``127.0.0.1`` on a port the kernel picks, so tests never collide with each
other, with other engineers' runs, or with real services. Servers run in daemon threads, record
what they receive, and are context managers so a failing test still closes its sockets.

:class:`LineServer` is the shared base: it accepts connections in one thread, runs
:meth:`LineServer.handle` for each connection in its own thread, optionally wraps the connection in
TLS first (implicit TLS, like ports 993 and 465), and gives the handler a :class:`Connection` that
reads CRLF lines and literals and can switch to TLS in the middle (STARTTLS).
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from pathlib import Path
from types import TracebackType
from typing import Self

__all__ = [
    "Connection",
    "LineServer",
    "SilentServer",
    "TLSServer",
    "closed_port",
    "free_port",
    "server_context",
]

LOOPBACK = "127.0.0.1"
HOST = "localhost"  # the name in the test certificates; clients connect to this

# Sockets bound (never listening) by closed_port(): kept open for the whole test session so the
# port stays reserved and refuses connections, instead of being free for anybody to take.
_RESERVED: list[socket.socket] = []


def free_port() -> int:
    """A loopback port nothing listens on right now, for a server that binds it itself.

    There is an unavoidable window between closing the probe socket here and the server binding
    the port; with kernel-chosen ephemeral ports a collision in that window is very unlikely.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def closed_port() -> int:
    """A loopback port that refuses connections (``ECONNREFUSED``) for the rest of the session.

    The port is bound by a socket that never calls ``listen()``: the kernel answers connection
    attempts with a reset, and since the port stays bound no other server can take it meanwhile,
    which a merely "unused" port cannot promise.
    """
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((LOOPBACK, 0))
    _RESERVED.append(s)
    return int(s.getsockname()[1])


def server_context(cert: Path | str, key: Path | str) -> ssl.SSLContext:
    """A server-side TLS context serving ``cert``/``key`` (TLS 1.2 and later)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(cert), str(key))
    return ctx


class ConnectionClosed(Exception):
    """The peer closed the connection (or the server is stopping)."""


class Connection:
    """One accepted connection: buffered CRLF line reading, literals, and STARTTLS.

    Our own buffering (rather than ``socket.makefile``) is what makes STARTTLS possible: the
    buffer is known to be empty at the switch, so no plaintext byte is read as TLS or vice versa.
    """

    def __init__(self, sock: socket.socket, server: LineServer) -> None:
        self.sock = sock
        self.server = server
        self._buf = b""

    def _fill(self) -> None:
        try:
            data = self.sock.recv(65536)
        except (OSError, ValueError) as exc:
            raise ConnectionClosed(str(exc)) from exc
        if not data:
            raise ConnectionClosed("peer closed the connection")
        self._buf += data

    def readline(self) -> bytes:
        """The next line without its line ending; records it on the server."""
        while b"\n" not in self._buf:
            if len(self._buf) > 1_000_000:
                raise ConnectionClosed("line too long")
            self._fill()
        line, _, self._buf = self._buf.partition(b"\n")
        line = line.rstrip(b"\r")
        self.server.record(line)
        return line

    def read_exact(self, n: int) -> bytes:
        """Exactly ``n`` bytes (an IMAP literal); recorded on the server as one entry."""
        while len(self._buf) < n:
            self._fill()
        data, self._buf = self._buf[:n], self._buf[n:]
        self.server.record(data)
        return data

    def send(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except (OSError, ValueError) as exc:
            raise ConnectionClosed(str(exc)) from exc

    def send_line(self, line: str) -> None:
        self.send(line.encode("utf-8") + b"\r\n")

    def starttls(self, context: ssl.SSLContext) -> None:
        """Switch this connection to TLS (after the "go ahead" reply has been sent)."""
        self._buf = b""
        try:
            self.sock = context.wrap_socket(self.sock, server_side=True)
        except (OSError, ssl.SSLError) as exc:
            self.server.tls_errors.append(exc)
            raise ConnectionClosed(f"TLS handshake failed: {exc}") from exc
        self.server.track(self.sock)


class LineServer:
    """A threaded loopback TCP server that hands each connection to :meth:`handle`.

    ``lines`` holds every line (and literal) received, decoded as UTF-8 with replacement, in
    arrival order across connections; ``tls_errors`` holds failed server-side handshakes (a
    client that rejects the certificate shows up here). Stopping closes the listener and every
    open connection, which also ends the handler threads.
    """

    host = HOST

    def __init__(self, tls_context: ssl.SSLContext | None = None) -> None:
        self.tls_context = tls_context
        self.lines: list[str] = []
        self.raw_lines: list[bytes] = []
        self.tls_errors: list[Exception] = []
        self.connections = 0
        self._listener = socket.create_server((LOOPBACK, 0))
        self._listener.settimeout(0.1)  # the accept loop polls so stop() is prompt
        self.port = int(self._listener.getsockname()[1])
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._accept_loop, name=f"{type(self).__name__}:{self.port}", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            socks, self._open = list(self._open), set()
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                s.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- bookkeeping -------------------------------------------------------------------------

    def record(self, data: bytes) -> None:
        with self._lock:
            self.raw_lines.append(data)
            self.lines.append(data.decode("utf-8", "replace"))

    def track(self, sock: socket.socket) -> None:
        with self._lock:
            self._open.add(sock)

    def clear(self) -> None:
        """Forget what was received so far (for reuse across tests)."""
        with self._lock:
            self.lines.clear()
            self.raw_lines.clear()
            self.tls_errors.clear()

    # -- serving -----------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            sock.settimeout(None)
            self.connections += 1
            self.track(sock)
            threading.Thread(
                target=self._serve, args=(sock,), name=f"{type(self).__name__}-conn", daemon=True
            ).start()

    def _serve(self, sock: socket.socket) -> None:
        conn = Connection(sock, self)
        try:
            if self.tls_context is not None:
                conn.starttls(self.tls_context)
            self.handle(conn)
        except ConnectionClosed:
            pass
        finally:
            with contextlib.suppress(OSError):
                conn.sock.close()
            with self._lock:
                self._open.discard(sock)
                self._open.discard(conn.sock)

    def handle(self, conn: Connection) -> None:
        """Speak the protocol on ``conn``; return (or raise ConnectionClosed) to hang up."""
        raise NotImplementedError


class SilentServer(LineServer):
    """Accepts connections and never sends a byte: the client's read timeout must fire.

    Connections stay open until the client gives up or the server stops, like a firewall that
    lets the SYN through to a process that has hung. Anything the client sends is recorded.
    """

    def handle(self, conn: Connection) -> None:
        while True:
            conn.readline()


class TLSServer(LineServer):
    """Implicit TLS with a given certificate, then a minimal IMAP greeting.

    Used with the expired and the self-signed certificates: a client that (wrongly) accepts the
    certificate gets an IMAP greeting and can log out, one that rejects it shows up in
    ``tls_errors``. It never accepts a login: no credential is ever checked here.
    """

    GREETING = "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] TLS test server ready"

    def __init__(self, cert: Path | str, key: Path | str) -> None:
        super().__init__(tls_context=server_context(cert, key))

    def handle(self, conn: Connection) -> None:
        conn.send_line(self.GREETING)
        while True:
            tag, _, rest = conn.readline().decode("utf-8", "replace").partition(" ")
            command = rest.split(" ", 1)[0].upper()
            if command == "LOGOUT":
                conn.send_line("* BYE Logging out")
                conn.send_line(f"{tag} OK LOGOUT completed")
                return
            if command == "CAPABILITY":
                conn.send_line("* CAPABILITY IMAP4rev1 AUTH=PLAIN")
                conn.send_line(f"{tag} OK CAPABILITY completed")
            else:
                conn.send_line(f"{tag} NO [UNAVAILABLE] This test server accepts no commands")
