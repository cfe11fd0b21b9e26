"""Sorting stored mail: rules, signals, the model learning from corrections, the review queue,
explanations, persistence across processes, and re-sorting only what a correction changes."""

from __future__ import annotations

import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select

from mailmatch.config import load_settings
from mailmatch.ingest.parse import parse_message
from mailmatch.pipeline.registry import STEPS
from mailmatch.sorting.classifier import Classifier
from mailmatch.sorting.service import SortService
from mailmatch.store.db import Database, open_database
from mailmatch.store.messages import Incoming, MessageStore
from mailmatch.store.sorting import MessageCategory, SortModel

SPAM_WORDS = "viagra cheap pills winner lottery claim prize offer bitcoin casino"
HAM_WORDS = "meeting agenda project deadline review notes budget schedule report team"


def mail(i: int, subject: str, body: str, sender: str, **headers: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "me@ours.example"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<m{i}@test>"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg.as_bytes()


def store(db: Database, raws: list[bytes]) -> list[int]:
    result = MessageStore(db).add_batch([Incoming(r, parse_message(r)) for r in raws])
    with db.engine.connect() as conn:
        from mailmatch.store.models import Message

        return (
            list(conn.execute(select(Message.id).order_by(Message.id)).scalars())[-len(raws) :]
            if result
            else []
        )


def spam(i: int) -> bytes:
    words = SPAM_WORDS.split()
    return mail(i, f"{words[i % 10]} {words[(i + 3) % 10]} now", " ".join(words[i % 5 :] * 3),
                f"promo{i}@deals{i % 3}.biz")  # fmt: skip


def ham(i: int) -> bytes:
    words = HAM_WORDS.split()
    return mail(i, f"{words[i % 10]} for {words[(i + 2) % 10]}", " ".join(words[i % 5 :] * 3),
                f"colleague{i % 4}@acme.example")  # fmt: skip


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return open_database(load_settings({"MAILMATCH_HOME": str(tmp_path / "home")}))


def state_of(db: Database, pk: int) -> tuple[str, str | None, str | None]:
    with db.engine.connect() as conn:
        row = conn.execute(
            select(
                MessageCategory.state, MessageCategory.category_id, MessageCategory.source
            ).where(MessageCategory.message_pk == pk)
        ).one()
    names = {c.id: c.name for c in SortService(db, 1).categories.list()}
    return row[0], names.get(row[1]) if row[1] else None, row[2]


def test_new_mail_is_sorted_as_it_is_stored_by_signals(db: Database) -> None:
    assert "sort" in STEPS.names() and STEPS.names().index("sort") > STEPS.names().index("match")
    pks = store(db, [
        mail(1, "Weekly digest", "news", "news@list.example", List_Id="<digest.list.example>"),
        mail(2, "Build failed", "ci", "noreply@ci.example"),
        mail(3, "You won", "prize", "x@y.example", X_Spam_Flag="YES"),
        mail(4, "Lunch?", "see you", "ann@acme.example"),
    ])  # fmt: skip
    SortService(db, 1).sort_messages(pks)  # what the pipeline's sort step does per batch
    assert [state_of(db, pk) for pk in pks] == [
        ("sorted", "newsletter", "signal"),
        ("sorted", "notification", "signal"),
        ("sorted", "spam", "signal"),
        ("uncategorized", None, None),
    ]


def test_a_rule_wins_over_signals_and_can_be_tried_first(db: Database) -> None:
    pks = store(db, [
        mail(1, "Invoice 2024-7", "pay", "billing@stripe.com", List_Id="<x>"),
        mail(2, "Hello", "hi", "ann@acme.example"),
    ])  # fmt: skip
    sorter = SortService(db, 1)
    sorter.sort_messages(pks)
    rule = sorter.add_rule("billing", "domain", "stripe.com")
    assert rule["applied"] == 1
    assert state_of(db, pks[0]) == ("sorted", "billing", "rule")
    trial = sorter.test_rule(rule["id"])
    assert (trial["matches"], trial["would_change"]) == (1, 0)  # already applied
    sorter.remove_rule(rule["id"])
    assert state_of(db, pks[0]) == ("sorted", "newsletter", "signal")


def test_corrections_teach_the_model_and_change_later_predictions(db: Database) -> None:
    sorter = SortService(db, 1)
    first = store(db, [spam(i) for i in range(8)] + [ham(i) for i in range(100, 108)])
    sorter.sort_messages(first)
    assert {state_of(db, pk)[0] for pk in first} == {"uncategorized"}  # nothing learned yet
    result = sorter.correct_many(
        [(pk, "spam") for pk in first[:8]] + [(pk, "personal") for pk in first[8:]]
    )
    assert len(result.corrections) == 16
    later = store(db, [spam(i) for i in range(20, 24)] + [ham(i) for i in range(120, 124)])
    sorter.sort_messages(later)
    got = [state_of(db, pk) for pk in later]
    assert [g[1] for g in got[:4]] == ["spam"] * 4
    assert [g[1] for g in got[4:]] == ["personal"] * 4
    assert {g[2] for g in got} == {"model"}
    # a person's correction is never re-sorted away
    sorter.correct(later[0], "support")
    sorter.run()
    assert state_of(db, later[0]) == ("sorted", "support", "correction")
    stats = sorter.stats()
    assert stats["examples"] == 17 and stats["accuracy"]["measured_on"] == 1


def test_unsure_predictions_go_to_the_review_queue(db: Database) -> None:
    sorter = SortService(db, 1)
    taught = store(db, [spam(i) for i in range(6)] + [ham(i) for i in range(100, 106)])
    sorter.correct_many(
        [(pk, "spam") for pk in taught[:6]] + [(pk, "personal") for pk in taught[6:]]
    )
    (odd,) = store(db, [mail(99, "status", "quarterly numbers", "someone@new.example")])
    sorter.categories.set_threshold(0.99)
    sorter.sort_messages([odd])
    assert state_of(db, odd)[0] == "review"
    queue = sorter.review()
    assert [r["id"] for r in queue] == [odd] and queue[0]["guess"] in ("spam", "personal")


def test_explain_names_the_reason_and_the_words_that_weighed(db: Database) -> None:
    sorter = SortService(db, 1)
    taught = store(db, [spam(i) for i in range(6)] + [ham(i) for i in range(100, 106)])
    sorter.correct_many(
        [(pk, "spam") for pk in taught[:6]] + [(pk, "personal") for pk in taught[6:]]
    )
    (new,) = store(db, [spam(50)])
    sorter.sort_messages([new])
    why = sorter.explain(new)
    assert (why["category"], why["source"]) == ("spam", "model")
    assert why["reason"].startswith("model: spam")
    words = [f["feature"] for f in why["features"]]
    assert any(w in SPAM_WORDS.split() or w.startswith("s:") for w in words)
    assert why["features"][0]["weight"] > 0


def test_a_correction_resorts_only_the_messages_it_changes(db: Database) -> None:
    sorter = SortService(db, 1)
    taught = store(db, [spam(i) for i in range(6)] + [ham(i) for i in range(100, 106)])
    sorter.correct_many(
        [(pk, "spam") for pk in taught[:6]] + [(pk, "personal") for pk in taught[6:]]
    )
    rest = store(db, [spam(i) for i in range(30, 36)] + [ham(i) for i in range(130, 136)])
    ruled = store(db, [mail(500, "casino winner", "casino prize", "x@ruled.example")])
    sorter.add_rule("sales", "domain", "ruled.example")
    sorter.sort_messages(rest)
    with db.engine.connect() as conn:
        before = {
            pk: at
            for pk, at in conn.execute(
                select(MessageCategory.message_pk, MessageCategory.sorted_at)
            )
        }
    result = sorter.correct(rest[0], "spam")  # agrees with the model: nothing else changes
    assert result.resort.changed == 0
    with db.engine.connect() as conn:
        after = {
            pk: at
            for pk, at in conn.execute(
                select(MessageCategory.message_pk, MessageCategory.sorted_at)
            )
        }
    assert {pk for pk in before if before[pk] != after[pk]} == {rest[0]}
    assert state_of(db, ruled[0]) == ("sorted", "sales", "rule")


def test_the_model_persists_as_plain_arrays_and_another_process_uses_it(
    db: Database, tmp_path: Path
) -> None:
    sorter = SortService(db, 1)
    taught = store(db, [spam(i) for i in range(6)] + [ham(i) for i in range(100, 106)])
    sorter.correct_many(
        [(pk, "spam") for pk in taught[:6]] + [(pk, "personal") for pk in taught[6:]]
    )
    with db.engine.connect() as conn:
        data = conn.execute(select(SortModel.data)).scalar_one()
    assert data[:2] == b"PK"  # an .npz archive, loaded with allow_pickle=False
    assert Classifier.from_bytes(data).ready
    (new,) = store(db, [spam(77)])
    code = (
        "from mailmatch.config import load_settings; from mailmatch.store.db import open_database;"
        "from mailmatch.sorting.service import SortService;"
        f"db = open_database(load_settings({{'MAILMATCH_HOME': {str(tmp_path / 'home')!r}}}));"
        f"print(SortService(db, 1).sort_messages([{new}]).by['model'])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1"
    assert state_of(db, new)[1:] == ("spam", "model")


def test_categories_can_be_renamed_added_and_removed(db: Database) -> None:
    sorter = SortService(db, 1)
    names = [c.name for c in sorter.categories.list()]
    assert names == [
        "support",
        "sales",
        "billing",
        "newsletter",
        "notification",
        "personal",
        "spam",
    ]
    (pk,) = store(db, [mail(1, "Digest", "news", "n@l.example", List_Id="<l>")])
    sorter.sort_messages([pk])
    sorter.categories.rename("newsletter", "lists")
    assert state_of(db, pk)[1] == "lists"
    sorter.categories.add("orders")
    sorter.categories.remove("lists")
    assert state_of(db, pk) == ("uncategorized", None, None)
    sorter.sort_messages([pk])  # the list signal's category is gone: nothing applies
    assert state_of(db, pk)[0] == "uncategorized"
    assert "orders" in [c.name for c in sorter.categories.list()]


def test_junk_folder_mail_is_spam_and_teaches_the_model_once(db: Database) -> None:
    from mailmatch.store.messages import LocationKey
    from mailmatch.store.models import Account
    from mailmatch.store.sorting import SortExample

    with db.session() as session:
        account = Account(
            name="a", address="me@ours.example", username="me", smtp_username="me",
            discovery_source="test", imap_host="127.0.0.1", imap_port=993, imap_security="tls",
            smtp_host="127.0.0.1", smtp_port=465, smtp_security="tls", secret="x", key_id="k",
        )  # fmt: skip
        session.add(account)
        session.flush()
        account_id = account.id
    raws = [spam(i) for i in range(12)]
    MessageStore(db).add_batch(
        [
            Incoming(r, parse_message(r), LocationKey(account_id, "Junk", 1, uid))
            for uid, r in enumerate(raws, start=1)
        ]
    )
    with db.engine.connect() as conn:
        from mailmatch.store.models import Message

        pks = list(conn.execute(select(Message.id)).scalars())
    sorter = SortService(db, 1)
    report = sorter.sort_messages(pks)
    assert (report.by["signal"], report.learned) == (12, 12)
    assert {state_of(db, pk) for pk in pks} == {("sorted", "spam", "signal")}
    assert sorter.sort_messages(pks).learned == 0  # taught once per message
    with db.engine.connect() as conn:
        origins = list(conn.execute(select(SortExample.origin)).scalars())
    assert origins == ["junk"] * 12
