"""Run the matcher over messages and keep their links and match states in step.

Entry points: ``match_messages`` (the after-store pipeline's matching step, see
:mod:`mailmatch.pipeline.steps`, which also queues the webhooks after it), ``match_all``, and
``rematch_emails`` / ``rematch_domains`` / ``rematch_pattern`` (called when a contact, company,
deal or rule changes): these find the affected messages through the address index and re-match
only those.

A ``MatchService`` works inside one workspace: it matches only that workspace's messages,
against that workspace's records and rules, and finds affected messages only there. The address
index has no workspace column of its own; it is scoped by joining ``messages``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Select, delete, func, select

from mailmatch.matching.addresses import Normalizer, domain_of, is_freemail
from mailmatch.matching.matcher import Matcher, Outcome
from mailmatch.matching.rules import (
    AddressRule,
    DomainRule,
    OwnAddressRule,
    OwnDomainRule,
    PatternRule,
    Rule,
)
from mailmatch.store.bulk import bulk_insert
from mailmatch.store.db import Database
from mailmatch.store.models import DEFAULT_WORKSPACE_ID, Account, Message, MessageAddress
from mailmatch.store.records import IgnoreRule, MatchState, MessageLink
from mailmatch.store.tables import MATCH_STATES, MESSAGE_LINKS
from mailmatch.timeutil import aware, now

CHUNK = 500


def make_rule(kind: str, value: str, rule_id: int | None = None) -> Rule:
    if kind == "address":
        return AddressRule(value, rule_id)
    if kind == "domain":
        return DomainRule(value, rule_id)
    return PatternRule(value, rule_id)


def load_rules(conn: Connection, workspace_id: int = DEFAULT_WORKSPACE_ID) -> list[Rule]:
    """The workspace's ignore rules, then the built-in ones for the addresses and domains of
    the workspace's own accounts (another workspace's mailboxes are outside mail here)."""
    rules: list[Rule] = []
    for rule_id, kind, value in conn.execute(
        select(IgnoreRule.id, IgnoreRule.kind, IgnoreRule.value)
        .where(IgnoreRule.workspace_id == workspace_id)
        .order_by(IgnoreRule.id)
    ):
        rules.append(make_rule(kind, value, rule_id))
    own = {
        a.lower()
        for (a,) in conn.execute(
            select(Account.address).where(Account.workspace_id == workspace_id)
        )
    }
    for address in sorted(own):
        rules.append(OwnAddressRule(address))
    for domain in sorted({domain_of(a) for a in own}):
        if not is_freemail(domain):
            rules.append(OwnDomainRule(domain))
    return rules


@dataclass
class MatchStats:
    matched: int = 0
    unmatched: int = 0
    ignored: int = 0

    def to_json(self) -> dict[str, int]:
        return dict(self.__dict__)


class MatchService:
    def __init__(
        self,
        db: Database,
        normalizer: Normalizer | None = None,
        *,
        workspace_id: int = DEFAULT_WORKSPACE_ID,
    ) -> None:
        self.db = db
        self.normalizer = normalizer or Normalizer()
        self.workspace_id = workspace_id

    def _addresses(self, *columns: Any) -> Select[Any]:
        """SELECT from the address index, limited to this workspace's messages."""
        return (
            select(*columns)
            .join(Message, Message.id == MessageAddress.message_pk)
            .where(Message.workspace_id == self.workspace_id)
        )

    # -- matching -----------------------------------------------------------------------------

    def match_messages(self, message_pks: Iterable[int]) -> list[Outcome]:
        """(Re-)match these messages; returns what each one became.

        Ids of another workspace's messages are dropped, as if they did not exist: their
        outcome belongs to that workspace's records and rules.
        """
        pks = sorted(set(message_pks))
        results: list[Outcome] = []
        for start in range(0, len(pks), CHUNK):
            with self.db.engine.begin() as conn:
                chunk = list(
                    conn.execute(
                        select(Message.id).where(
                            Message.workspace_id == self.workspace_id,
                            Message.id.in_(pks[start : start + CHUNK]),
                        )
                    ).scalars()
                )
                if not chunk:
                    continue
                rules = load_rules(conn, self.workspace_id)
                matcher = Matcher(rules, self.normalizer, workspace_id=self.workspace_id)
                outcomes = matcher.match(conn, sorted(chunk))
                self._write(conn, chunk, outcomes)
            results += outcomes
        return results

    def match_missing(self) -> int:
        """Match stored messages that have no outcome yet (a run killed between storing a batch
        and matching it leaves some); cheap when there are none."""
        with self.db.read() as conn:
            pks = list(
                conn.execute(
                    select(Message.id)
                    .outerjoin(MatchState, MatchState.message_pk == Message.id)
                    .where(Message.workspace_id == self.workspace_id)
                    .where(MatchState.message_pk.is_(None))
                ).scalars()
            )
        return len(self.match_messages(pks)) if pks else 0

    def match_all(self) -> int:
        with self.db.read() as conn:
            pks = list(
                conn.execute(
                    select(Message.id)
                    .where(Message.workspace_id == self.workspace_id)
                    .order_by(Message.id)
                ).scalars()
            )
        return len(self.match_messages(pks))

    def _write(self, conn: Connection, pks: list[int], outcomes: list[Outcome]) -> None:
        conn.execute(delete(MessageLink).where(MessageLink.message_pk.in_(pks)))
        conn.execute(delete(MatchState).where(MatchState.message_pk.in_(pks)))
        stamp = now()
        links = [
            {
                "message_pk": o.message_pk,
                "record_type": link.record_type,
                "record_id": link.record_id,
                "reason": link.reason,
                "created_at": stamp,
            }
            for o in outcomes
            for link in o.links
        ]
        bulk_insert(conn, MESSAGE_LINKS, links, ignore_conflicts=True)
        bulk_insert(
            conn,
            MATCH_STATES,
            [
                {
                    "message_pk": o.message_pk,
                    "status": o.status,
                    "detail": o.detail,
                    "unmatched_sender": o.unmatched_sender,
                    "matched_at": stamp,
                }
                for o in outcomes
            ],
        )

    # -- re-matching through the address index -------------------------------------------------

    def messages_with_emails(self, emails: Iterable[str]) -> set[int]:
        wanted = sorted({e.lower() for e in emails})
        found: set[int] = set()
        with self.db.read() as conn:
            if self.normalizer.exact:
                for start in range(0, len(wanted), 900):
                    found.update(
                        conn.execute(
                            self._addresses(MessageAddress.message_pk).where(
                                MessageAddress.email.in_(wanted[start : start + 900])
                            )
                        ).scalars()
                    )
            else:  # plus-tags / Gmail dots: look at the same domains, compare normalised
                targets = {self.normalizer(e) for e in wanted}
                domains = {domain_of(e) for e in wanted} | (
                    {"gmail.com", "googlemail.com"} if self.normalizer.gmail_dots else set()
                )
                for pk, email in conn.execute(
                    self._addresses(MessageAddress.message_pk, MessageAddress.email).where(
                        MessageAddress.domain.in_(sorted(domains))
                    )
                ):
                    if self.normalizer(email) in targets:
                        found.add(pk)
        return found

    def messages_with_domains(self, domains: Iterable[str]) -> set[int]:
        wanted = sorted({d.lower() for d in domains})
        with self.db.read() as conn:
            return set(
                conn.execute(
                    self._addresses(MessageAddress.message_pk).where(
                        MessageAddress.domain.in_(wanted)
                    )
                ).scalars()
            )

    def messages_with_pattern(self, pattern: str) -> set[int]:
        rule = PatternRule(pattern)
        with self.db.read() as conn:
            emails = [
                e
                for (e,) in conn.execute(self._addresses(MessageAddress.email).distinct())
                if rule.check(e)
            ]
        return self.messages_with_emails(emails)

    def messages_in_domain(self, domain: str) -> set[int]:
        """Messages with an address at ``domain`` or any of its subdomains."""
        rule = DomainRule(domain)
        with self.db.read() as conn:
            domains = [
                d
                for (d,) in conn.execute(self._addresses(MessageAddress.domain).distinct())
                if d and rule.covers(d)
            ]
        return self.messages_with_domains(domains)

    def messages_linked_to(self, record_type: str, record_id: int) -> set[int]:
        with self.db.read() as conn:
            return set(
                conn.execute(
                    select(MessageLink.message_pk)
                    .join(Message, Message.id == MessageLink.message_pk)
                    .where(
                        Message.workspace_id == self.workspace_id,
                        MessageLink.record_type == record_type,
                        MessageLink.record_id == record_id,
                    )
                ).scalars()
            )

    # -- reading ------------------------------------------------------------------------------

    def stats(self, days: int | None = None) -> MatchStats:
        query = (
            select(MatchState.status, func.count())
            .join(Message, Message.id == MatchState.message_pk)
            .where(Message.workspace_id == self.workspace_id)
            .group_by(MatchState.status)
        )
        if days is not None:
            query = query.where(Message.date >= now() - timedelta(days=days))
        stats = MatchStats()
        with self.db.read() as conn:
            for status, count in conn.execute(query):
                if status in ("matched", "unmatched", "ignored"):
                    setattr(stats, status, int(count))
        return stats

    def unmatched_senders(self) -> int:
        """How many senders the unmatched queue holds in all (for its pager)."""
        with self.db.read() as conn:
            return int(
                conn.execute(
                    select(func.count(func.distinct(MatchState.unmatched_sender)))
                    .join(Message, Message.id == MatchState.message_pk)
                    .where(Message.workspace_id == self.workspace_id)
                    .where(MatchState.status == "unmatched")
                ).scalar_one()
            )

    def unmatched(self, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        """Senders with mail but no record, most messages first: the queue a person works,
        a page of ``limit`` senders from ``offset``."""
        with self.db.read() as conn:
            rows = conn.execute(
                select(
                    MatchState.unmatched_sender,
                    func.count(),
                    func.max(Message.date),
                    func.max(Message.id),
                )
                .join(Message, Message.id == MatchState.message_pk)
                .where(Message.workspace_id == self.workspace_id)
                .where(MatchState.status == "unmatched")
                .group_by(MatchState.unmatched_sender)
                .order_by(func.count().desc(), MatchState.unmatched_sender)
                .limit(limit)
                .offset(max(0, offset))
            ).all()
            names: dict[str, str] = dict(
                conn.execute(
                    self._addresses(MessageAddress.email, func.max(MessageAddress.name))
                    .where(MessageAddress.email.in_([r[0] for r in rows if r[0]]))
                    .group_by(MessageAddress.email)
                ).all()
            )
        return [
            {
                "sender": sender,
                "name": names.get(sender or "") or "",
                "messages": int(count),
                "last_date": last_date.isoformat() if (last_date := aware(last)) else None,
                "example_message": example,
            }
            for sender, count, last, example in rows
        ]
