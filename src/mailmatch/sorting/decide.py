"""The order of sorting's sources, for one message: plain data in, a :class:`Decision` out.

1. a person's correction stands (sorting never overrides it);
2. the user's rules, first match wins;
3. a strong signal (the provider's spam verdict, its Junk folder);
4. the model, when it is sure (probability at or above the threshold); a weak signal (list or
   machine headers) stands unless the model's guess is spam at 50 % or more (spam wears
   those headers too);
5. a weak signal;
6. the model's unsure guess goes to the review queue;
7. otherwise uncategorized.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mailmatch.sorting.classifier import Prediction
from mailmatch.sorting.facts import MessageFacts
from mailmatch.sorting.rules import SortRule, first_match
from mailmatch.sorting.signals import first_signal

SOURCES = ("rule", "signal", "model", "correction")
SPAM_OVER_SIGNAL = 0.5


@dataclass(frozen=True)
class Decision:
    state: str  # sorted | review | uncategorized
    category_id: int | None
    source: str | None
    reason: str
    confidence: float | None = None
    rule_id: int | None = None
    guess_id: int | None = None

    def to_row(self, message_pk: int, workspace_id: int) -> dict[str, Any]:
        return {
            "message_pk": message_pk,
            "workspace_id": workspace_id,
            "category_id": self.category_id,
            "state": self.state,
            "source": self.source,
            "reason": self.reason,
            "confidence": self.confidence,
            "rule_id": self.rule_id,
            "guess_id": self.guess_id,
        }

    def same_as(self, row: dict[str, Any] | None) -> bool:
        """Whether a stored row already says this (then it is not written again)."""
        if row is None:
            return False
        return bool(
            row["state"] == self.state
            and row["category_id"] == self.category_id
            and row["source"] == self.source
            and row["reason"] == self.reason
            and row["guess_id"] == self.guess_id
        )


@dataclass(frozen=True)
class Context:
    """What the decision needs besides the message: the workspace's rules and categories."""

    rules: list[SortRule]
    ids: dict[str, int]  # category name -> id
    names: dict[int, str]
    threshold: float


def decide(facts: MessageFacts, prediction: Prediction | None, ctx: Context) -> Decision:
    hit = first_match(ctx.rules, facts)
    if hit is not None:
        rule, reason = hit
        category_id = ctx.ids.get(rule.category)
        if category_id is not None:
            reason = f"rule {rule.rule_id}: {reason}"
            return Decision("sorted", category_id, "rule", reason, rule_id=rule.rule_id)
    signal = first_signal(facts, set(ctx.ids))
    if signal is not None and signal[0].strong:
        return Decision(
            "sorted", ctx.ids[signal[0].category], "signal", f"{signal[0].name}: {signal[1]}"
        )
    sure = prediction is not None and prediction.confidence >= ctx.threshold
    if prediction is not None:
        name = ctx.names.get(prediction.category_id, "?")
        # Over a weak signal, the model's spam verdict needs only to be its best guess by a
        # clear margin: spam dressed as a newsletter is the commonest disguise.
        overrides = (sure and signal is None) or (
            signal is not None and name == "spam" and prediction.confidence >= SPAM_OVER_SIGNAL
        )
        if overrides:
            reason = f"model: {name} ({prediction.confidence:.0%} sure)"
            if signal is not None:
                reason += f", over the {signal[0].name} signal"
            return Decision(
                "sorted",
                prediction.category_id,
                "model",
                reason,
                confidence=prediction.confidence,
                guess_id=prediction.category_id,
            )
    if signal is not None:
        return Decision(
            "sorted",
            ctx.ids[signal[0].category],
            "signal",
            f"{signal[0].name}: {signal[1]}",
            guess_id=prediction.category_id if prediction else None,
            confidence=prediction.confidence if prediction else None,
        )
    if prediction is not None:
        name = ctx.names.get(prediction.category_id, "?")
        return Decision(
            "review",
            None,
            "model",
            f"model: unsure, {name} at {prediction.confidence:.0%} "
            f"(below the {ctx.threshold:.0%} threshold)",
            confidence=prediction.confidence,
            guess_id=prediction.category_id,
        )
    return Decision("uncategorized", None, None, "no rule or signal applies and the model "
                    "has not learned enough yet")  # fmt: skip
