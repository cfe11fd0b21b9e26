"""Sign-in rate limiting: a sliding window of failures per client address and per email.

Counting by email as well as by address stops a password being guessed from many addresses;
counting by address stops one client trying many emails. Successful sign-ins clear the email's
count. The window lives in memory: one ``mailmatch serve`` process serves the web app.

The client address is the peer's, or behind a configured trusted proxy the one its
X-Forwarded-For names (``create_app`` installs that): never a header anyone can write.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable


class SignInLimiter:
    def __init__(
        self,
        max_failures: int = 5,
        window: float = 15 * 60,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self.clock = clock
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: str) -> deque[float]:
        q = self._failures[key]
        cutoff = self.clock() - self.window
        while q and q[0] < cutoff:
            q.popleft()
        return q

    def retry_after(self, client: str, email: str) -> int:
        """Seconds to wait before another attempt is allowed; 0 when allowed now."""
        with self._lock:
            waits = []
            for key in (f"ip:{client}", f"email:{email.strip().lower()}"):
                q = self._recent(key)
                if len(q) >= self.max_failures:
                    waits.append(q[0] + self.window - self.clock())
            return max(1, int(max(waits)) + 1) if waits else 0

    def failed(self, client: str, email: str) -> None:
        with self._lock:
            stamp = self.clock()
            self._failures[f"ip:{client}"].append(stamp)
            self._failures[f"email:{email.strip().lower()}"].append(stamp)

    def succeeded(self, email: str) -> None:
        with self._lock:
            self._failures.pop(f"email:{email.strip().lower()}", None)
