"""Sorting one workspace's mail: run the sources over messages, learn from corrections.

Entry points: :meth:`SortService.sort_messages` (the pipeline's ``sort`` step, per stored
batch, and ``sort run``), :meth:`SortService.correct` (CLI, web, API, and a message moved on
the server into a category folder), :meth:`SortService.explain`, ``review``, ``stats``.

A correction teaches the model at once and re-sorts what the model decided (or was unsure
of): only messages whose outcome changes are written. Mail a rule or a person decided is not
touched. Mail in the provider's Junk folder is sorted as spam by its signal and also teaches
the model, once per message.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, delete, func, or_, select

from mailmatch.errors import NotFound
from mailmatch.sorting.categories import Categories, ensure_defaults
from mailmatch.sorting.classifier import Classifier, Prediction
from mailmatch.sorting.decide import Context, Decision, decide
from mailmatch.sorting.facts import MessageFacts, load_facts
from mailmatch.sorting.features import features
from mailmatch.sorting.models import load_model, save_model
from mailmatch.sorting.rules import SortRule, make_rule
from mailmatch.sorting.signals import JunkFolder
from mailmatch.store.bulk import bulk_insert
from mailmatch.store.db import Database
from mailmatch.store.models import Message
from mailmatch.store.sorting import MessageCategory, SortCategory, SortExample
from mailmatch.store.sorting import SortRule as RuleRow
from mailmatch.store.tables import MESSAGE_CATEGORIES, SORT_EXAMPLES
from mailmatch.timeutil import now

CHUNK = 1000
REPLAY = 3  # earlier examples learned again with each new one
RECENT = 200  # corrections the accuracy figure is measured on


@dataclass
class SortReport:
    """What a sort did (or, in a dry run, would do)."""

    sorted: int = 0
    by: Counter[str] = field(default_factory=Counter)
    review: int = 0
    uncategorized: int = 0
    changed: int = 0
    kept: int = 0  # corrected by a person: left alone
    learned: int = 0  # Junk-folder mail the model learned from
    seconds: float = 0.0
    dry_run: bool = False
    changes: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "sorted": self.sorted,
            "by": {source: self.by.get(source, 0) for source in ("rule", "signal", "model")},
            "review": self.review,
            "uncategorized": self.uncategorized,
            "changed": self.changed,
            "kept": self.kept,
            "learned": self.learned,
            "seconds": round(self.seconds, 3),
            "dry_run": self.dry_run,
        }


class SortService:
    """Sorting inside one workspace."""

    def __init__(self, db: Database, workspace_id: int) -> None:
        self.db = db
        self.workspace_id = workspace_id
        self.categories = Categories(db, workspace_id)

    # -- context ------------------------------------------------------------------------------

    def _context(self, conn: Connection) -> Context:
        threshold = ensure_defaults(conn, self.workspace_id)
        cats = conn.execute(
            select(SortCategory.id, SortCategory.name).where(
                SortCategory.workspace_id == self.workspace_id
            )
        ).all()
        names = {int(i): n for i, n in cats}
        rules = [
            make_rule(kind, value, category=names.get(category_id, ""), rule_id=rule_id)
            for rule_id, kind, value, category_id in conn.execute(
                select(RuleRow.id, RuleRow.kind, RuleRow.value, RuleRow.category_id)
                .where(RuleRow.workspace_id == self.workspace_id)
                .order_by(RuleRow.position, RuleRow.id)
            )
        ]
        return Context(rules, {n: i for i, n in names.items()}, names, threshold)

    def _model(self, conn: Connection, ctx: Context) -> tuple[int | None, Classifier]:
        """The stored model, or a fresh one; rebuilt from the examples when the categories
        changed since it was trained (its rows are the category ids)."""
        loaded = load_model(conn, self.workspace_id)
        classes = sorted(ctx.names)
        if loaded is not None and loaded[1].classes == classes:
            return loaded
        model = Classifier(classes)
        pks, labels = self._examples(conn)
        if pks:
            facts = {f.pk: f for f in load_facts(conn, self.workspace_id, pks)}
            pairs = [
                (features(facts[p]), y) for p, y in zip(pks, labels, strict=True) if p in facts
            ]
            model.fit([d for d, _ in pairs], [y for _, y in pairs])
        return (loaded[0] if loaded else None), model

    def _examples(self, conn: Connection) -> tuple[list[int], list[int]]:
        rows = conn.execute(
            select(SortExample.message_pk, SortExample.category_id)
            .where(SortExample.workspace_id == self.workspace_id)
            .order_by(SortExample.id)
        ).all()
        return [int(p) for p, _ in rows], [int(c) for _, c in rows]

    def _stored(self, conn: Connection, pks: Sequence[int]) -> dict[int, dict[str, Any]]:
        found: dict[int, dict[str, Any]] = {}
        for start in range(0, len(pks), CHUNK):
            chunk = list(pks[start : start + CHUNK])
            for row in conn.execute(
                select(MESSAGE_CATEGORIES).where(MESSAGE_CATEGORIES.c.message_pk.in_(chunk))
            ).mappings():
                found[int(row["message_pk"])] = dict(row)
        return found

    # -- sorting ------------------------------------------------------------------------------

    def sort_messages(
        self, message_pks: Sequence[int], *, dry_run: bool = False, only_model: bool = False
    ) -> SortReport:
        """Sort these messages (those a person corrected keep their category).

        ``only_model``: re-sort only what the model decided or was unsure of (after a
        correction), leaving rule and signal outcomes as they are.
        """
        started = time.perf_counter()
        report = SortReport(dry_run=dry_run)
        pks = list(dict.fromkeys(int(p) for p in message_pks))
        if not pks:
            return report
        with self.db.engine.begin() as conn:
            ctx = self._context(conn)
            version, model = self._model(conn, ctx)
            stored = self._stored(conn, pks)
            todo = [p for p in pks if (stored.get(p) or {}).get("source") != "correction"]
            report.kept = len(pks) - len(todo)
            if only_model:
                todo = [p for p in todo if _model_decided(stored.get(p))]
            facts = load_facts(conn, self.workspace_id, todo)
            learned, model = self._learn_junk(conn, facts, model, ctx, dry_run)
            report.learned = learned
            # Features cost most of a sort: an untrained model (a new workspace's first
            # import) is not asked, so its mail costs only the rules and signals.
            docs = [features(f) for f in facts] if model.ready else []
            predictions: list[Prediction | None] = list(model.predict(docs)) or [None] * len(facts)
            rows, changed_pks = [], []
            for f, prediction in zip(facts, predictions, strict=True):
                decision = decide(f, prediction, ctx)
                _count(report, decision)
                if decision.same_as(stored.get(f.pk)):
                    continue
                report.changed += 1
                if dry_run:
                    report.changes.append(_change(f, stored.get(f.pk), decision, ctx))
                    continue
                rows.append(decision.to_row(f.pk, self.workspace_id) | {"sorted_at": now()})
                changed_pks.append(f.pk)
            if not dry_run:
                if learned:
                    save_model(conn, self.workspace_id, model, version)
                if changed_pks:
                    conn.execute(
                        delete(MessageCategory).where(MessageCategory.message_pk.in_(changed_pks))
                    )
                    bulk_insert(conn, MESSAGE_CATEGORIES, rows)
        report.seconds = time.perf_counter() - started
        return report

    def _learn_junk(
        self,
        conn: Connection,
        facts: list[MessageFacts],
        model: Classifier,
        ctx: Context,
        dry_run: bool,
    ) -> tuple[int, Classifier]:
        """Mail in the Junk folder teaches the model spam, once per message (on a copy of the
        model, so the cached one stays right if the transaction rolls back)."""
        spam = ctx.ids.get("spam")
        if spam is None or dry_run:
            return 0, model
        signal = JunkFolder()
        junk = [f for f in facts if signal.check(f)]
        if not junk:
            return 0, model
        known = set(
            conn.execute(
                select(SortExample.message_pk).where(
                    SortExample.workspace_id == self.workspace_id,
                    SortExample.message_pk.in_([f.pk for f in junk]),
                )
            ).scalars()
        )
        # Features only for what the model has not learned yet: a Junk folder is sorted again
        # on every run, and its old mail was taught already.
        fresh = [(f, features(f)) for f in junk if f.pk not in known]
        if not fresh:
            return 0, model
        model = Classifier.from_bytes(model.to_bytes())
        guesses = model.predict([d for _f, d in fresh])
        bulk_insert(
            conn,
            SORT_EXAMPLES,
            [
                {
                    "workspace_id": self.workspace_id,
                    "message_pk": f.pk,
                    "category_id": spam,
                    "origin": "junk",
                    "model_guess": guesses[i].category_id if guesses else None,
                    "previous_source": None,
                    "created_at": now(),
                }
                for i, (f, _d) in enumerate(fresh)
            ],
        )
        model.learn([d for _f, d in fresh], [spam] * len(fresh))
        return len(fresh), model

    def run(self, *, dry_run: bool = False) -> SortReport:
        """Re-sort every message of the workspace (``sort run``)."""
        with self.db.read() as conn:
            pks = list(
                conn.execute(
                    select(Message.id)
                    .where(Message.workspace_id == self.workspace_id)
                    .order_by(Message.id)
                ).scalars()
            )
        return self.sort_messages(pks, dry_run=dry_run)

    # -- corrections --------------------------------------------------------------------------

    def correct(
        self, message_pk: int, category: str, *, origin: str = "correction"
    ) -> CorrectionResult:
        return self.correct_many([(message_pk, category)], origin=origin)

    def correct_many(
        self, pairs: Sequence[tuple[int, str]], *, origin: str = "correction"
    ) -> CorrectionResult:
        """A person says these messages belong in these categories: recorded, learned at
        once, and then every message the model decided is re-sorted with what it now knows."""
        if not pairs:
            return CorrectionResult([], SortReport())
        ids = self.categories.by_name()
        wanted = []
        for pk, name in pairs:
            key = " ".join(name.split()).lower()
            if key not in ids:
                self.categories.get(name)  # raises NotFound with the list
            wanted.append((int(pk), ids[key]))
        with self.db.engine.begin() as conn:
            ctx = self._context(conn)
            version, model = self._model(conn, ctx)
            model = Classifier.from_bytes(model.to_bytes())  # learn on a copy: a rollback
            stored = self._stored(conn, [pk for pk, _ in wanted])  # leaves the cache right
            facts = {f.pk: f for f in load_facts(conn, self.workspace_id, [p for p, _ in wanted])}
            missing = [pk for pk, _ in wanted if pk not in facts]
            if missing:
                raise NotFound(f"no message {missing[0]} in this workspace")
            docs = [features(facts[pk]) for pk, _ in wanted]
            guesses = model.predict(docs)
            done = []
            for i, (pk, category_id) in enumerate(wanted):
                previous = stored.get(pk)
                conn.execute(
                    delete(SortExample).where(
                        SortExample.workspace_id == self.workspace_id,
                        SortExample.message_pk == pk,
                    )
                )
                bulk_insert(
                    conn,
                    SORT_EXAMPLES,
                    [
                        {
                            "workspace_id": self.workspace_id,
                            "message_pk": pk,
                            "category_id": category_id,
                            "origin": origin,
                            "model_guess": guesses[i].category_id if guesses else None,
                            "previous_source": previous["source"] if previous else None,
                            "created_at": now(),
                        }
                    ],
                )
                conn.execute(delete(MessageCategory).where(MessageCategory.message_pk == pk))
                how = "moved on the server to its folder" if origin == "folder" else "corrected"
                bulk_insert(
                    conn,
                    MESSAGE_CATEGORIES,
                    [
                        Decision("sorted", category_id, "correction", f"{how} by a person").to_row(
                            pk, self.workspace_id
                        )
                        | {"sorted_at": now()}
                    ],
                )
                done.append(
                    Correction(
                        pk,
                        ctx.names[category_id],
                        ctx.names.get(previous["category_id"] or 0) if previous else None,
                        previous["source"] if previous else None,
                    )
                )
            replay_docs, replay_labels = self._replay(conn, [pk for pk, _ in wanted])
            model.learn(docs + replay_docs, [c for _pk, c in wanted] + replay_labels)
            save_model(conn, self.workspace_id, model, version)
            if not model.ready:  # it predicts nothing yet: no other message can change
                return CorrectionResult(done, SortReport())
            candidates = list(
                conn.execute(
                    select(MessageCategory.message_pk).where(
                        MessageCategory.workspace_id == self.workspace_id,
                        or_(MessageCategory.source == "model", MessageCategory.state != "sorted"),
                    )
                ).scalars()
            )
        resort = self.sort_messages(candidates, only_model=True)
        return CorrectionResult(done, resort)

    def _replay(self, conn: Connection, fresh: list[int]) -> tuple[list[list[str]], list[int]]:
        """A few earlier examples learned again beside the new ones (rehearsal): one online
        step on a lone correction otherwise pulls the model too far towards it. Measured on the
        corpus stream (bench/bench_sort.py): fewer errors over the last half."""
        pks, labels = self._examples(conn)
        old = [(p, y) for p, y in zip(pks, labels, strict=True) if p not in set(fresh)]
        if not old:
            return [], []
        rng = random.Random(len(pks))
        picked = rng.sample(old, min(len(old), REPLAY * len(fresh)))
        facts = {f.pk: f for f in load_facts(conn, self.workspace_id, [p for p, _ in picked])}
        kept = [(features(facts[p]), y) for p, y in picked if p in facts]
        return [d for d, _ in kept], [y for _, y in kept]

    # -- reading ------------------------------------------------------------------------------

    def explain(self, message_pk: int) -> dict[str, Any]:
        """Where the message is, why, and the features that weighed most for that."""
        with self.db.engine.begin() as conn:
            ctx = self._context(conn)
            facts = load_facts(conn, self.workspace_id, [message_pk])
            if not facts:
                raise NotFound(f"no message {message_pk} in this workspace")
            row = self._stored(conn, [message_pk]).get(message_pk)
            _version, model = self._model(conn, ctx)
        doc = features(facts[0])
        predicted = model.predict([doc])
        prediction = predicted[0] if predicted else None
        category_id = row["category_id"] if row else None
        target = category_id if category_id is not None else (row or {}).get("guess_id")
        if target is None and prediction is not None:
            target = prediction.category_id
        weights = model.explain(doc, target) if target is not None else []
        return {
            "message": message_pk,
            "category": ctx.names.get(category_id) if category_id else "uncategorized",
            "state": row["state"] if row else "unsorted",
            "source": row["source"] if row else None,
            "reason": row["reason"] if row else "not sorted yet: run mailmatch sort run",
            "confidence": row["confidence"] if row else None,
            "model": None
            if prediction is None
            else {
                "category": ctx.names.get(prediction.category_id),
                "confidence": round(prediction.confidence, 4),
            },
            "features": [w.to_json() for w in weights],
        }

    def review(self, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        """The unsure messages, least sure first, with the model's guess."""
        with self.db.read() as conn:
            names = dict(
                conn.execute(
                    select(SortCategory.id, SortCategory.name).where(
                        SortCategory.workspace_id == self.workspace_id
                    )
                ).all()
            )
            rows = conn.execute(
                select(
                    Message.id,
                    Message.subject,
                    Message.from_email,
                    Message.date,
                    MessageCategory.guess_id,
                    MessageCategory.confidence,
                    MessageCategory.reason,
                )
                .join(MessageCategory, MessageCategory.message_pk == Message.id)
                .where(
                    MessageCategory.workspace_id == self.workspace_id,
                    MessageCategory.state == "review",
                )
                .order_by(MessageCategory.confidence, Message.id)
                .limit(limit)
                .offset(offset)
            ).all()
        return [
            {
                "id": pk,
                "subject": subject,
                "from": sender,
                "date": date.isoformat() if date else None,
                "guess": names.get(guess or 0),
                "confidence": round(conf, 4) if conf is not None else None,
                "reason": reason,
            }
            for pk, subject, sender, date, guess, conf, reason in rows
        ]

    def stats(self) -> dict[str, Any]:
        """Counts per category and source, the review queue, and the model's accuracy on the
        most recent corrections (what it guessed just before each was taught)."""
        cats = self.categories.list()
        with self.db.read() as conn:
            by_state = dict(
                conn.execute(
                    select(MessageCategory.state, func.count())
                    .where(MessageCategory.workspace_id == self.workspace_id)
                    .group_by(MessageCategory.state)
                ).all()
            )
            by_source = dict(
                conn.execute(
                    select(MessageCategory.source, func.count())
                    .where(
                        MessageCategory.workspace_id == self.workspace_id,
                        MessageCategory.state == "sorted",
                    )
                    .group_by(MessageCategory.source)
                ).all()
            )
            total = conn.execute(
                select(func.count()).where(Message.workspace_id == self.workspace_id)
            ).scalar_one()
            recent = conn.execute(
                select(SortExample.model_guess, SortExample.category_id)
                .where(
                    SortExample.workspace_id == self.workspace_id,
                    SortExample.origin != "junk",
                    SortExample.model_guess.is_not(None),
                )
                .order_by(SortExample.id.desc())
                .limit(RECENT)
            ).all()
            examples = conn.execute(
                select(func.count()).where(SortExample.workspace_id == self.workspace_id)
            ).scalar_one()
        right = sum(1 for guess, label in recent if guess == label)
        return {
            "messages": int(total),
            "categories": [c.to_json() for c in cats],
            "sorted": int(by_state.get("sorted", 0)),
            "by": {s: int(by_source.get(s, 0)) for s in ("rule", "signal", "model", "correction")},
            "review": int(by_state.get("review", 0)),
            "uncategorized": int(by_state.get("uncategorized", 0)),
            "unsorted": int(total) - sum(int(n) for n in by_state.values()),
            "examples": int(examples),
            "accuracy": {
                "measured_on": len(recent),
                "correct": right,
                "accuracy": round(right / len(recent), 4) if recent else None,
            },
        }

    # -- rules --------------------------------------------------------------------------------

    def rules(self) -> list[dict[str, Any]]:
        with self.db.engine.begin() as conn:
            ctx = self._context(conn)
        return [
            {
                "id": r.rule_id,
                "position": i + 1,
                "category": r.category,
                "kind": r.kind,
                "value": r.value,
                "description": r.description,
            }
            for i, r in enumerate(ctx.rules)
        ]

    def add_rule(self, category: str, kind: str, value: str) -> dict[str, Any]:
        """Add a rule at the end of the order (validated first) and apply it."""
        target = self.categories.get(category)
        rule = make_rule(kind, value, category=target.name)
        with self.db.engine.begin() as conn:
            position = conn.execute(
                select(func.coalesce(func.max(RuleRow.position), 0)).where(
                    RuleRow.workspace_id == self.workspace_id
                )
            ).scalar_one()
            result = conn.execute(
                RuleRow.__table__.insert().values(  # type: ignore[attr-defined]
                    workspace_id=self.workspace_id,
                    category_id=target.id,
                    kind=rule.kind,
                    value=rule.value,
                    position=int(position) + 1,
                    created_at=now(),
                )
            )
            rule_id = int(_new_id(result))
        applied = self.sort_messages(self._rule_hits(rule))
        return {
            "id": rule_id,
            "category": target.name,
            "kind": rule.kind,
            "value": rule.value,
            "description": rule.description,
            "applied": applied.changed,
        }

    def remove_rule(self, rule_id: int) -> dict[str, Any]:
        with self.db.engine.begin() as conn:
            found = conn.execute(
                select(RuleRow.id).where(
                    RuleRow.id == rule_id, RuleRow.workspace_id == self.workspace_id
                )
            ).scalar()
            if found is None:
                raise NotFound(f"no sorting rule {rule_id}")
            sorted_by = list(
                conn.execute(
                    select(MessageCategory.message_pk).where(MessageCategory.rule_id == rule_id)
                ).scalars()
            )
            conn.execute(delete(RuleRow).where(RuleRow.id == rule_id))
        resorted = self.sort_messages(sorted_by)
        return {"id": rule_id, "removed": True, "resorted": resorted.changed}

    def _rule_hits(self, rule: SortRule) -> list[int]:
        with self.db.read() as conn:
            pks = list(
                conn.execute(
                    select(Message.id).where(Message.workspace_id == self.workspace_id)
                ).scalars()
            )
            hits = []
            for start in range(0, len(pks), CHUNK):
                for f in load_facts(conn, self.workspace_id, pks[start : start + CHUNK]):
                    if rule.check(f) is not None:
                        hits.append(f.pk)
        return hits

    def test_rule(self, rule_id: int, limit: int = 50) -> dict[str, Any]:
        """A dry run of the workspace's rules over the messages this rule matches: what it
        would change (a rule earlier in the order may win instead)."""
        with self.db.engine.begin() as conn:
            ctx = self._context(conn)
        rule = next((r for r in ctx.rules if r.rule_id == rule_id), None)
        if rule is None:
            raise NotFound(f"no sorting rule {rule_id}")
        hits = self._rule_hits(rule)
        report = self.sort_messages(hits, dry_run=True)
        return {
            "id": rule_id,
            "description": rule.description,
            "category": rule.category,
            "matches": len(hits),
            "would_change": report.changed,
            "changes": report.changes[:limit],
        }


@dataclass(frozen=True)
class Correction:
    message: int
    category: str
    was: str | None
    was_source: str | None


@dataclass(frozen=True)
class CorrectionResult:
    corrections: list[Correction]
    resort: SortReport

    def to_json(self) -> dict[str, Any]:
        return {
            "corrected": [
                {
                    "message": c.message,
                    "category": c.category,
                    "was": c.was,
                    "was_source": c.was_source,
                }
                for c in self.corrections
            ],
            "resorted": self.resort.changed,
        }


def _new_id(result: Any) -> int:
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def _model_decided(row: dict[str, Any] | None) -> bool:
    return row is None or row["source"] == "model" or row["state"] != "sorted"


def _count(report: SortReport, decision: Decision) -> None:
    if decision.state == "sorted":
        report.sorted += 1
        report.by[decision.source or ""] += 1
    elif decision.state == "review":
        report.review += 1
    else:
        report.uncategorized += 1


def _change(
    facts: MessageFacts, row: dict[str, Any] | None, decision: Decision, ctx: Context
) -> dict[str, Any]:
    def label(category_id: int | None, state: str | None) -> str:
        if category_id is not None:
            return ctx.names.get(category_id, "?")
        return state or "unsorted"

    return {
        "id": facts.pk,
        "subject": facts.subject,
        "from": facts.from_email,
        "from_category": label(row["category_id"], row["state"]) if row else "unsorted",
        "to_category": label(decision.category_id, decision.state),
        "source": decision.source,
        "reason": decision.reason,
    }
