"""Each rule kind and each signal, on facts made by hand: what applies, and the reason said."""

from __future__ import annotations

import pytest

from mailmatch.errors import InvalidInput
from mailmatch.sorting.facts import MessageFacts
from mailmatch.sorting.rules import KINDS, first_match, make_rule
from mailmatch.sorting.signals import first_signal

ALL = {"newsletter", "notification", "spam"}


def facts(**kw: object) -> MessageFacts:
    base: dict[str, object] = {"pk": 1, "subject": "Hello", "from_email": "ann@acme.com"}
    return MessageFacts(**(base | kw))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "value", "hit", "miss"),
    [
        ("from", "*@stripe.com", facts(from_email="billing@stripe.com"), facts()),
        ("from", "re:^bill", facts(from_email="billing@x.com"), facts()),
        ("domain", "stripe.com", facts(from_email="a@eu.stripe.com"), facts(from_email="a@notstripe.com")),
        ("to", "support@*", facts(recipients=["support@us.com"]), facts(recipients=["sales@us.com"])),
        ("subject", r"invoice\s+\d+", facts(subject="Your Invoice 42"), facts()),
        ("body", "refund", facts(body="I want a REFUND please"), facts(body="thanks")),
        ("header", "List-Id", facts(headers={"list-id": "<dev.lists.x>"}), facts()),
        ("header", "List-Id=github", facts(headers={"list-id": "<x.github.com>"}), facts(headers={"list-id": "<x.gitlab.com>"})),
        ("attachment", "yes", facts(attachment_count=2), facts()),
        ("attachment", "no", facts(), facts(attachment_count=1)),
        ("folder", "inbox/orders", facts(folders=["INBOX/Orders"]), facts(folders=["INBOX"])),
        ("matched", "deal", facts(matched={"deal", "contact"}), facts(matched={"contact"})),
        ("matched", "any", facts(matched={"company"}), facts()),
    ],
)  # fmt: skip
def test_each_rule_kind_applies_with_a_reason(
    kind: str, value: str, hit: MessageFacts, miss: MessageFacts
) -> None:
    rule = make_rule(kind, value, category="billing", rule_id=7)
    reason = rule.check(hit)
    assert reason, f"{kind}={value} should apply"
    assert rule.check(miss) is None
    assert rule.description


def test_every_kind_is_covered() -> None:
    assert set(KINDS) == {
        "from", "domain", "to", "subject", "body", "header", "attachment", "folder", "matched",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "value"),
    [("subject", "(unclosed"), ("attachment", "maybe"), ("matched", "ticket"), ("domain", "a@b"),
     ("header", "Bad Name=x"), ("nope", "x"), ("from", "  ")],
)  # fmt: skip
def test_a_bad_rule_is_refused_before_it_is_saved(kind: str, value: str) -> None:
    with pytest.raises(InvalidInput):
        make_rule(kind, value)


def test_the_first_rule_in_order_wins() -> None:
    rules = [
        make_rule("domain", "stripe.com", category="billing", rule_id=1),
        make_rule("subject", "invoice", category="support", rule_id=2),
    ]
    rule, reason = first_match(rules, facts(from_email="a@stripe.com", subject="invoice")) or (
        None,
        "",
    )
    assert rule is not None and rule.rule_id == 1 and "stripe.com" in reason


@pytest.mark.parametrize(
    ("given", "signal", "category", "strong"),
    [
        (facts(headers={"list-unsubscribe": "<mailto:u@x>"}), "list-mail", "newsletter", False),
        (facts(headers={"list-id": "<a.b>"}), "list-mail", "newsletter", False),
        (facts(headers={"precedence": "bulk"}), "list-mail", "newsletter", False),
        (facts(headers={"auto-submitted": "auto-generated"}), "machine-mail", "notification", False),
        (facts(from_email="no-reply@github.com"), "machine-mail", "notification", False),
        (facts(headers={"x-spam-flag": "YES"}), "spam-verdict", "spam", True),
        (facts(headers={"x-spam-status": "Yes, score=9.1"}), "spam-verdict", "spam", True),
        (facts(headers={"x-ms-exchange-organization-scl": "6"}), "spam-verdict", "spam", True),
        (facts(folders=["Junk"]), "junk-folder", "spam", True),
        (facts(folders=["[Gmail]/Spam"]), "junk-folder", "spam", True),
        (facts(folders=["Spamverdacht"]), "junk-folder", "spam", True),
    ],
)  # fmt: skip
def test_each_signal(given: MessageFacts, signal: str, category: str, strong: bool) -> None:
    found = first_signal(given, ALL)
    assert found is not None
    assert (found[0].name, found[0].category, found[0].strong) == (signal, category, strong)
    assert found[1]


def test_no_signal_for_plain_mail_or_a_negative_verdict() -> None:
    assert first_signal(facts(headers={"x-spam-status": "No, score=-2"}), ALL) is None
    assert first_signal(facts(headers={"auto-submitted": "no"}), ALL) is None
    assert first_signal(facts(folders=["INBOX"]), ALL) is None


def test_a_signal_is_skipped_when_its_category_was_removed() -> None:
    assert first_signal(facts(headers={"list-id": "<a.b>"}), {"spam"}) is None
