"""An HTTP server on loopback that answers webhook POSTs and keeps what it received."""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self


class Receiver:
    """Answers with the next status in ``statuses`` (then 200), after ``delay`` seconds, and
    keeps every (headers, body) it got. Listens on 127.0.0.1, or ``::1`` with ``ipv6``, on a
    free port or on ``port``."""

    def __init__(self, *, ipv6: bool = False, delay: float = 0.0, port: int = 0) -> None:
        self.statuses: list[int] = []
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.connections = 0
        self.delay = delay
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def setup(self) -> None:
                receiver.connections += 1
                super().setup()

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                time.sleep(receiver.delay)
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            address_family = socket.AF_INET6 if ipv6 else socket.AF_INET

        self.server = Server(("::1" if ipv6 else "127.0.0.1", port), Handler)
        self.port: int = self.server.server_address[1]
        host = "[::1]" if ipv6 else "127.0.0.1"
        self.url = f"http://{host}:{self.port}/hook"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def delivery_ids(self) -> list[str]:
        return [headers["X-Mailmatch-Delivery"] for headers, _ in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
