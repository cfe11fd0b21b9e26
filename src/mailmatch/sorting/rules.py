"""Sorting rules as tiny classes, in the manner of Mailman's rules and the ignore rules.

Each rule has a ``name``, a ``description`` a person can read and ``check(facts)`` returning
the reason it applies (recorded on the message) or ``None``. A stored rule is a ``kind`` and a
``value``; :func:`make_rule` turns them into one of these, and refuses a value that cannot work
(a bad regular expression) before it is saved.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar

from mailmatch.errors import InvalidInput
from mailmatch.sorting.facts import MessageFacts

RECORD_TYPES = ("contact", "company", "deal", "any")


def _pattern(value: str) -> re.Pattern[str]:
    """A shell pattern (``*@stripe.com``) or ``re:`` and a regular expression, both
    case-insensitive; a pattern matches the whole value, a regex anywhere in it."""
    if value.startswith("re:"):
        return re.compile(value[3:], re.I)
    return re.compile(fnmatch.translate(value.lower()), re.I)


def _compile(value: str) -> re.Pattern[str]:
    try:
        return re.compile(value, re.I)
    except re.error as exc:
        raise InvalidInput(f"{value!r} is not a regular expression: {exc}") from None


@dataclass(frozen=True)
class SortRule:
    """The common part: a stored rule's id, its category and its value."""

    kind: ClassVar[str] = ""
    value: str
    category: str = ""
    rule_id: int | None = None

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.value}"

    @property
    def description(self) -> str:
        raise NotImplementedError

    def check(self, facts: MessageFacts) -> str | None:
        raise NotImplementedError

    def validate(self) -> None:
        """Raise :class:`InvalidInput` when the value cannot work."""


@dataclass(frozen=True)
class _AddressPatternRule(SortRule):
    """An address rule's value: a shell pattern (the whole address) or ``re:`` + a regex."""

    @cached_property
    def _regex(self) -> re.Pattern[str]:
        return _pattern(self.value)

    def validate(self) -> None:
        if self.value.startswith("re:"):
            _compile(self.value[3:])

    def matches(self, email: str) -> bool:
        regex = self._regex
        hit = regex.search(email) if self.value.startswith("re:") else regex.fullmatch(email)
        return hit is not None


@dataclass(frozen=True)
class FromRule(_AddressPatternRule):
    kind: ClassVar[str] = "from"

    @property
    def description(self) -> str:
        return f"sender address matches {self.value}"

    def check(self, facts: MessageFacts) -> str | None:
        email = facts.from_email
        if email and self.matches(email):
            return f"sender {email} matches {self.value}"
        return None


@dataclass(frozen=True)
class DomainRule(SortRule):
    kind: ClassVar[str] = "domain"

    @property
    def description(self) -> str:
        return f"sender is at {self.value} or one of its subdomains"

    def validate(self) -> None:
        if "@" in self.value or not self.value.strip("."):
            raise InvalidInput(f"{self.value!r} is not a domain (no @, e.g. stripe.com)")

    def check(self, facts: MessageFacts) -> str | None:
        domain, value = facts.from_domain, self.value.lower().strip(".")
        if domain and (domain == value or domain.endswith("." + value)):
            return f"sender {facts.from_email} is at {value}"
        return None


@dataclass(frozen=True)
class ToRule(_AddressPatternRule):
    """Which of our mailboxes it was sent to (To, Cc or Bcc)."""

    kind: ClassVar[str] = "to"

    @property
    def description(self) -> str:
        return f"sent to an address matching {self.value}"

    def check(self, facts: MessageFacts) -> str | None:
        for email in facts.recipients:
            if self.matches(email):
                return f"sent to {email} (matches {self.value})"
        return None


@dataclass(frozen=True)
class _TextRule(SortRule):
    """A regular expression searched in one text of the message, named by ``part``."""

    part: ClassVar[str] = ""

    @property
    def description(self) -> str:
        return f"{self.part} matches /{self.value}/"

    @cached_property
    def _regex(self) -> re.Pattern[str]:
        return _compile(self.value)

    def validate(self) -> None:
        _compile(self.value)

    def text(self, facts: MessageFacts) -> str:
        raise NotImplementedError

    def check(self, facts: MessageFacts) -> str | None:
        hit = self._regex.search(self.text(facts))
        return f"{self.kind} contains {hit.group(0)!r} (rule /{self.value}/)" if hit else None


@dataclass(frozen=True)
class SubjectRule(_TextRule):
    kind: ClassVar[str] = "subject"
    part: ClassVar[str] = "subject"

    def text(self, facts: MessageFacts) -> str:
        return facts.subject


@dataclass(frozen=True)
class BodyRule(_TextRule):
    kind: ClassVar[str] = "body"
    part: ClassVar[str] = "body text"

    def text(self, facts: MessageFacts) -> str:
        return facts.body


@dataclass(frozen=True)
class HeaderRule(SortRule):
    """``List-Id`` (the field is present) or ``List-Id=<regex>`` (and its value matches)."""

    kind: ClassVar[str] = "header"

    @property
    def field_name(self) -> str:
        return self.value.partition("=")[0].strip().lower()

    @cached_property
    def _regex(self) -> re.Pattern[str] | None:
        _name, eq, pattern = self.value.partition("=")
        return _compile(pattern) if eq else None

    @property
    def description(self) -> str:
        name, eq, pattern = self.value.partition("=")
        return f"header {name.strip()} matches /{pattern}/" if eq else f"has a {name} header"

    def validate(self) -> None:
        if not re.fullmatch(r"[!-9;-~]+", self.field_name):
            raise InvalidInput(f"{self.field_name!r} is not a header field name")
        _ = self._regex

    def check(self, facts: MessageFacts) -> str | None:
        found = facts.header(self.field_name)
        if found is None:
            return None
        if self._regex is None:
            return f"has a {self.field_name} header"
        hit = self._regex.search(found)
        return f"{self.field_name}: {found[:80]!r} matches /{self._regex.pattern}/" if hit else None


@dataclass(frozen=True)
class AttachmentRule(SortRule):
    """``yes``: has at least one attachment; ``no``: has none."""

    kind: ClassVar[str] = "attachment"

    @property
    def description(self) -> str:
        return "has an attachment" if self.value != "no" else "has no attachment"

    def validate(self) -> None:
        if self.value not in ("yes", "no"):
            raise InvalidInput("an attachment rule is 'yes' or 'no'")

    def check(self, facts: MessageFacts) -> str | None:
        if self.value == "no":
            return "has no attachment" if facts.attachment_count == 0 else None
        if facts.attachment_count:
            return f"has {facts.attachment_count} attachment(s)"
        return None


@dataclass(frozen=True)
class FolderRule(SortRule):
    kind: ClassVar[str] = "folder"

    @property
    def description(self) -> str:
        return f"came from the folder {self.value}"

    def check(self, facts: MessageFacts) -> str | None:
        for folder in facts.folders:
            if folder.casefold() == self.value.casefold():
                return f"came from the folder {folder}"
        return None


@dataclass(frozen=True)
class MatchedRule(SortRule):
    """Linked to a record: ``contact``, ``company``, ``deal`` or ``any``."""

    kind: ClassVar[str] = "matched"

    @property
    def description(self) -> str:
        what = "a contact, company or deal" if self.value == "any" else f"a {self.value}"
        return f"matched to {what}"

    def validate(self) -> None:
        if self.value not in RECORD_TYPES:
            raise InvalidInput(f"a matched rule is one of {', '.join(RECORD_TYPES)}")

    def check(self, facts: MessageFacts) -> str | None:
        if self.value == "any":
            return f"matched to a {sorted(facts.matched)[0]}" if facts.matched else None
        return f"matched to a {self.value}" if self.value in facts.matched else None


KINDS: dict[str, type[SortRule]] = {
    cls.kind: cls
    for cls in (
        FromRule,
        DomainRule,
        ToRule,
        SubjectRule,
        BodyRule,
        HeaderRule,
        AttachmentRule,
        FolderRule,
        MatchedRule,
    )
}


def make_rule(kind: str, value: str, *, category: str = "", rule_id: int | None = None) -> SortRule:
    """The rule for a stored ``kind`` and ``value``; :class:`InvalidInput` when either is bad."""
    cls = KINDS.get(kind)
    if cls is None:
        raise InvalidInput(f"no rule kind {kind!r}; the kinds are {', '.join(KINDS)}")
    if not value.strip():
        raise InvalidInput(f"a {kind} rule needs a value")
    rule = cls(value.strip(), category, rule_id)
    rule.validate()
    return rule


def first_match(rules: list[SortRule], facts: MessageFacts) -> tuple[SortRule, str] | None:
    """The first rule that applies, with its reason: the order is the user's."""
    for rule in rules:
        reason = rule.check(facts)
        if reason is not None:
            return rule, reason
    return None
