"""Matching the real corpus to contacts, companies and deals; every link with its reason."""

from __future__ import annotations

import pytest

from mailmatch.contacts.rules import RuleService
from mailmatch.contacts.service import RecordService
from mailmatch.errors import InvalidInput
from mailmatch.matching.service import MatchService
from tests.matching.conftest import Query

pytestmark = pytest.mark.corpus


def top_senders(sql: Query, n: int) -> list[str]:
    rows = sql(
        "SELECT email, count(DISTINCT message_pk) c FROM message_addresses WHERE role='from' "
        "AND domain NOT IN ('gmail.com','yahoo.com','hotmail.com') "
        f"GROUP BY email ORDER BY c DESC, email LIMIT {n}"
    )
    return [str(r[0]) for r in rows]


def messages_of(sql: Query, email: str) -> set[int]:
    return {
        int(r[0]) for r in sql(f"SELECT message_pk FROM message_addresses WHERE email='{email}'")
    }


def test_a_new_contact_rematches_exactly_the_messages_that_carry_its_address(
    records: RecordService, sql: Query
) -> None:
    sender = top_senders(sql, 1)[0]
    expected = messages_of(sql, sender)

    change = records.add_contact(sender, "Top Sender")

    assert change.rematched == len(expected)
    shown = records.show_contact(sender, limit=100_000)
    assert {m["id"] for m in shown["messages"]} == expected
    for message in shown["messages"]:
        assert f"{sender} belongs to contact Top Sender" in message["reason"]


def test_reasons_name_the_header_the_address_was_in(records: RecordService, sql: Query) -> None:
    cc = sql(
        "SELECT email FROM message_addresses WHERE role='cc' GROUP BY email "
        "ORDER BY count(*) DESC LIMIT 1"
    )[0][0]
    records.add_contact(str(cc), "Carbon Copy")
    reasons = {m["reason"] for m in records.show_contact(str(cc))["messages"]}
    assert any(r.startswith(f"Cc address {cc} belongs to contact Carbon Copy") for r in reasons)


def test_companies_match_by_domain_but_never_by_a_free_mail_domain(
    records: RecordService, sql: Query
) -> None:
    domain, count = sql(
        "SELECT domain, count(DISTINCT message_pk) c FROM message_addresses "
        "WHERE domain='example.com' OR domain LIKE '%.net' GROUP BY domain ORDER BY c DESC LIMIT 1"
    )[0]
    change = records.add_company("Acme", [str(domain)])
    assert change.rematched == count
    linked = sql("SELECT count(*), min(reason) FROM message_links WHERE record_type='company'")[0]
    assert linked[0] == count
    assert "a domain of Acme" in str(linked[1])
    with pytest.raises(InvalidInput, match="free-mail"):
        records.add_company("Google", ["gmail.com"])


def test_open_deals_link_through_their_contacts(records: RecordService, sql: Query) -> None:
    sender = top_senders(sql, 2)[1]
    records.add_contact(sender, "Dana", "Dana Corp")
    change = records.add_deal("Renewal 2003", contacts=[sender])
    assert change.rematched == len(messages_of(sql, sender))
    reasons = sql("SELECT DISTINCT reason FROM message_links WHERE record_type='deal'")
    assert all("a contact on deal Renewal 2003" in str(r[0]) for r in reasons)


def test_ignore_rules_keep_mail_out_and_say_which_rule(records: RecordService, sql: Query) -> None:
    sender = top_senders(sql, 1)[0]
    records.add_contact(sender, "Top Sender")
    domain = sender.rpartition("@")[2]
    rules = RuleService(records.db, records.matches)
    change = rules.add_rule("domain", domain)
    assert change.rematched >= len(messages_of(sql, sender))
    assert records.show_contact(sender)["messages"] == []
    details = sql(
        "SELECT s.status, s.detail FROM match_states s JOIN message_addresses a "
        f"ON a.message_pk = s.message_pk WHERE a.email='{sender}' AND a.role='from'"
    )
    ignored = [d for status, d in details if status == "ignored"]
    assert ignored and all(f"rule domain:{domain}" in str(d) for d in ignored)

    rules.remove_rule(change.record["id"])
    assert records.show_contact(sender)["messages"]


def test_unmatched_queue_groups_by_sender_and_stats_add_up(
    corpus_db: object, records: RecordService, sql: Query
) -> None:
    matches = records.matches
    queue = matches.unmatched(limit=5)
    assert queue[0]["messages"] >= queue[-1]["messages"]
    first = queue[0]["sender"]
    before = matches.stats()
    records.add_contact(first, "Was Unmatched")
    after = matches.stats()
    assert after.matched > before.matched
    assert first not in [q["sender"] for q in matches.unmatched(limit=5)]
    total = sql("SELECT count(*) FROM messages")[0][0]
    assert after.matched + after.unmatched + after.ignored == total


def test_own_addresses_and_domain_are_ignored_by_default(
    records: RecordService, sql: Query
) -> None:
    from mailmatch.store.models import Account

    sender = top_senders(sql, 1)[0]
    domain = sender.rpartition("@")[2]
    records.add_contact(sender, "Top Sender")  # matched while it is nobody's own address
    assert records.show_contact(sender)["messages"]

    with records.db.session() as session:  # the sender connects this very mailbox
        session.add(
            Account(
                name="me",
                address=sender,
                username=sender,
                smtp_username=sender,
                discovery_source="manual",
                imap_host="x",
                imap_port=993,
                imap_security="ssl",
                smtp_host="x",
                smtp_port=465,
                smtp_security="ssl",
                secret="-",
                key_id="-",
            )
        )
    MatchService(records.db).match_messages(messages_of(sql, sender))

    assert records.show_contact(sender)["messages"] == []  # internal mail is out of records
    states = sql(
        "SELECT s.status, s.detail FROM match_states s JOIN message_addresses a "
        f"ON a.message_pk = s.message_pk WHERE a.email='{sender}'"
    )
    assert states and {status for status, _ in states} <= {"ignored", "unmatched"}
    ignored = [str(d) for status, d in states if status == "ignored"]
    assert ignored and all(f"{sender} is your own address" in d for d in ignored)
    for status, detail in states:  # what stays unmatched is so for someone else
        if status == "unmatched":
            assert sender not in str(detail) and f"@{domain}" not in str(detail)
