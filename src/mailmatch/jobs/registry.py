"""Job kinds: each kind's handler and how it is retried, defined once for every runner.

The default ``registry`` is filled by the modules that define kinds (``@job_kind("import.run")``
in :mod:`mailmatch.sync.jobs`); :mod:`mailmatch.jobs.builtin` imports them all. A registry is a
plain object, so a test or the web app can copy it and swap one handler's dependencies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from mailmatch.errors import NotFound
from mailmatch.jobs.model import Handler


class UnknownKind(NotFound):
    code = "unknown_job_kind"


@dataclass(frozen=True)
class Kind:
    """A kind's handler and policy: ``max_attempts`` runs before the run is dead, the wait
    before the n-th retry ``retry_delay * 2**(n-1)`` seconds, the key lease ``lease_seconds``."""

    name: str
    handler: Handler
    max_attempts: int = 3
    retry_delay: float = 30.0
    lease_seconds: float = 300.0
    description: str = ""


class Registry:
    def __init__(self) -> None:
        self._kinds: dict[str, Kind] = {}

    def add(
        self,
        name: str,
        handler: Handler,
        *,
        max_attempts: int = 3,
        retry_delay: float = 30.0,
        lease_seconds: float = 300.0,
        description: str = "",
    ) -> Kind:
        kind = Kind(name, handler, max_attempts, retry_delay, lease_seconds, description)
        self._kinds[name] = kind
        return kind

    def kind(self, name: str, **policy: float | int | str) -> Callable[[Handler], Handler]:
        """Decorator: ``@registry.kind("import.run", max_attempts=3)``."""

        def register(handler: Handler) -> Handler:
            self.add(name, handler, **policy)  # type: ignore[arg-type]
            return handler

        return register

    def get(self, name: str) -> Kind:
        found = self._kinds.get(name)
        if found is None:
            raise UnknownKind(f"no job kind {name!r}", advice=[f"known: {', '.join(self.names())}"])
        return found

    def names(self) -> list[str]:
        return sorted(self._kinds)

    def copy(self) -> Registry:
        other = Registry()
        other._kinds = dict(self._kinds)
        return other

    def with_handler(self, name: str, handler: Handler) -> Registry:
        """A copy in which kind ``name`` (same policy) calls ``handler``."""
        other = self.copy()
        other._kinds[name] = replace(self.get(name), handler=handler)
        return other


registry = Registry()
job_kind = registry.kind
