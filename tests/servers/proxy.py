"""A TCP proxy that cuts connections at chosen points: a dropped connection, for real.

It forwards bytes untouched (TLS passes through end to end) and, for the n-th connection, closes
both sides once ``cuts[n]`` bytes have gone from the server to the client. Connections beyond
the list pass through whole.
"""

from __future__ import annotations

import contextlib
import socket
import threading


class CuttingProxy:
    def __init__(self, target_port: int, cuts: list[int], target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.cuts = list(cuts)
        self.connections = 0
        self.cut_count = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        self._listener.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            index = self.connections
            self.connections += 1
            budget = self.cuts[index] if index < len(self.cuts) else None
            upstream = socket.create_connection(self.target)
            threading.Thread(
                target=self._pipe, args=(upstream, client, budget, True), daemon=True
            ).start()
            threading.Thread(
                target=self._pipe, args=(client, upstream, None, False), daemon=True
            ).start()

    def _pipe(
        self, src: socket.socket, dst: socket.socket, budget: int | None, downstream: bool
    ) -> None:
        sent = 0
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if budget is not None and sent + len(data) >= budget:
                    dst.sendall(data[: max(budget - sent, 0)])
                    self.cut_count += 1
                    break
                dst.sendall(data)
                sent += len(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    sock.close()

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        self._thread.join(timeout=2)
