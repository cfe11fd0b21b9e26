"""Ignore rules: mail whose outside addresses all fall under them stays out of records and
the unmatched queue. Adding or removing one re-matches only the messages it concerns.

A ``RuleService`` works in one workspace, like ``RecordService``.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from mailmatch.contacts.service import Change, Rematching, clean_domain, valid_email
from mailmatch.errors import AlreadyExists, InvalidInput, NotFound
from mailmatch.matching.service import load_rules, make_rule
from mailmatch.store.records import IgnoreRule


class RuleService(Rematching):
    """Adds, removes and lists a workspace's ignore rules."""

    def add_rule(self, kind: str, value: str) -> Change:
        value = value.strip().lower() if kind != "pattern" else value.strip()
        if kind == "address":
            value = valid_email(value)
        elif kind == "domain":
            value = clean_domain(value)
        elif kind != "pattern":
            raise InvalidInput(f"unknown rule kind {kind!r}")
        try:  # a bad regular expression is refused here, never met later while matching
            make_rule(kind, value).check("probe@example.com")
        except re.error as exc:
            raise InvalidInput(f"not a regular expression: {value!r} ({exc})") from None
        with self.db.session() as session:
            if session.scalar(
                select(IgnoreRule.id).where(
                    IgnoreRule.workspace_id == self.workspace_id,
                    IgnoreRule.kind == kind,
                    IgnoreRule.value == value,
                )
            ):
                raise AlreadyExists(f"the rule {kind} {value} exists")
            rule = IgnoreRule(workspace_id=self.workspace_id, kind=kind, value=value)
            session.add(rule)
            session.flush()
            record = {"id": rule.id, "kind": kind, "value": value}
        pks = self._rule_messages(kind, value)
        self._rematch(pks)
        return Change(record, len(pks))

    def remove_rule(self, rule_id: int) -> Change:
        with self.db.session() as session:
            rule = session.get(IgnoreRule, rule_id)
            if rule is None or rule.workspace_id != self.workspace_id:
                raise NotFound(f"no rule {rule_id}", advice=["list them: mailmatch rules list"])
            kind, value = rule.kind, rule.value
            session.delete(rule)
        pks = self._rule_messages(kind, value)
        self._rematch(pks)
        return Change({"id": rule_id, "kind": kind, "value": value}, len(pks))

    def _rule_messages(self, kind: str, value: str) -> set[int]:
        if kind == "address":
            return self.matches.messages_with_emails([value])
        if kind == "domain":
            return self.matches.messages_in_domain(value)
        return self.matches.messages_with_pattern(value)

    def rules(self) -> list[dict[str, Any]]:
        with self.db.read() as conn:
            return [
                {
                    "id": getattr(rule, "rule_id", None),
                    "name": rule.name,
                    "description": rule.description,
                    "builtin": getattr(rule, "rule_id", None) is None,
                }
                for rule in load_rules(conn, self.workspace_id)
            ]
