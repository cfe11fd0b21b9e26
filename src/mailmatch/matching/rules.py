"""Ignore rules as tiny classes, in the manner of Mailman's moderation rules.

Each rule has a ``name``, a ``description`` a person can read, and ``check(address)`` that
returns the reason it applies (recorded on the message) or ``None``.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol


class Rule(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    def check(self, email: str) -> str | None: ...


@dataclass(frozen=True)
class AddressRule:
    value: str
    rule_id: int | None = None

    @property
    def name(self) -> str:
        return f"address:{self.value}"

    @property
    def description(self) -> str:
        return f"ignore mail to or from {self.value}"

    def check(self, email: str) -> str | None:
        return f"address {email} is ignored (rule {self.name})" if email == self.value else None


@dataclass(frozen=True)
class DomainRule:
    value: str
    rule_id: int | None = None

    @property
    def name(self) -> str:
        return f"domain:{self.value}"

    @property
    def description(self) -> str:
        return f"ignore every address at {self.value} and its subdomains"

    def covers(self, domain: str) -> bool:
        return domain == self.value or domain.endswith("." + self.value)

    def check(self, email: str) -> str | None:
        if self.covers(email.rpartition("@")[2]):
            return f"domain of {email} is ignored (rule {self.name})"
        return None


@dataclass(frozen=True)
class PatternRule:
    """A shell-style pattern (``noreply@*``, ``*-bounces@*``) or ``re:`` + a regular expression."""

    value: str
    rule_id: int | None = None

    @property
    def name(self) -> str:
        return f"pattern:{self.value}"

    @property
    def description(self) -> str:
        return f"ignore addresses matching {self.value}"

    @cached_property
    def _regex(self) -> re.Pattern[str]:
        if self.value.startswith("re:"):
            return re.compile(self.value[3:], re.I)
        return re.compile(fnmatch.translate(self.value.lower()))

    def check(self, email: str) -> str | None:
        if self.value.startswith("re:"):
            hit = self._regex.search(email)
        else:
            hit = self._regex.fullmatch(email)
        return f"{email} matches ignored pattern {self.value}" if hit else None


@dataclass(frozen=True)
class OwnAddressRule:
    """Built in: the user's own mailbox addresses (internal mail stays out of records)."""

    value: str

    @property
    def name(self) -> str:
        return f"own-address:{self.value}"

    @property
    def description(self) -> str:
        return f"{self.value} is one of your own connected mailboxes"

    def check(self, email: str) -> str | None:
        return f"{email} is your own address" if email == self.value else None


@dataclass(frozen=True)
class OwnDomainRule:
    """Built in: the user's own company domain (never a free-mail domain)."""

    value: str

    @property
    def name(self) -> str:
        return f"own-domain:{self.value}"

    @property
    def description(self) -> str:
        return f"{self.value} is your own domain: internal mail is ignored"

    def check(self, email: str) -> str | None:
        domain = email.rpartition("@")[2]
        return (
            f"{email} is internal ({self.value} is your domain)" if domain == self.value else None
        )
