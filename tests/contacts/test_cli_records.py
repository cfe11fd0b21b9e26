"""The records commands as a user runs them: contacts, companies, rules, matches, webhooks."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from mailmatch.cli import app
from mailmatch.config import load_settings
from mailmatch.contacts.bulk import RecordImporter
from mailmatch.contacts.records import CompanyRecord, ContactRecord, ImportedRecords
from mailmatch.ingest.parse import parse_message
from mailmatch.matching.service import MatchService
from mailmatch.store.db import open_database
from mailmatch.store.messages import Incoming, MessageStore
from tests.cli import run_mailmatch
from tests.contacts.conftest import Radicale


def mailmatch(home: Path, *args: str, stdin: str | None = None) -> Any:
    result = run_mailmatch(home, *args, stdin=stdin)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout) if "--json" in args else result.stdout


def mail(n: int, frm: str, to: str = "me@mycorp.test", cc: str = "") -> Incoming:
    raw = (
        f"From: {frm}\r\nTo: {to}\r\n"
        + (f"Cc: {cc}\r\n" if cc else "")
        + f"Subject: note {n}\r\nMessage-ID: <n{n}@x>\r\nDate: Mon, 2 Sep 2002 10:00:00 +0000\r\n"
        f"\r\nbody {n}\r\n"
    ).encode()
    return Incoming(raw, parse_message(raw))


def seeded_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    db = open_database(load_settings({"MAILMATCH_HOME": str(home)}))
    stored = MessageStore(db).add_batch(
        [
            mail(1, "Bob Smith <bob@acme.test>"),
            mail(2, "ann@other.test", cc="bob@acme.test"),
            mail(3, "sales@acme.test"),
            mail(4, "noreply@service.test"),
            mail(5, "ann@other.test"),
        ]
    )
    MatchService(db).match_messages(stored.message_pks)
    db.engine.dispose()
    return home


def test_contacts_companies_rules_and_stats(tmp_path: Path) -> None:
    home = seeded_home(tmp_path)
    mailmatch(
        home,
        "accounts",
        "add",
        "me@mycorp.test",
        "--password-stdin",
        "--no-test",
        "--imap-host",
        "localhost",
        "--smtp-host",
        "localhost",
        stdin="pw",
    )
    assert mailmatch(home, "matches", "run", "--json") == {"matched_messages": 5}
    assert any(  # our own domain is ignored by default: internal mail stays out of records
        r["name"] == "own-domain:mycorp.test" and r["builtin"]
        for r in mailmatch(home, "rules", "ignore", "list", "--json")
    )
    before = mailmatch(home, "matches", "stats", "--json")
    assert before["all"] == {"matched": 0, "unmatched": 5, "ignored": 0}
    assert {"matched", "unmatched", "ignored"} <= set(before)

    added = mailmatch(
        home,
        "contacts",
        "add",
        "Bob@Acme.test",
        "--name",
        "Bob Smith",
        "--company",
        "Acme",
        "--json",
    )
    assert added["rematched"] == 2 and added["emails"] == ["bob@acme.test"]
    shown = mailmatch(home, "contacts", "show", "bob@acme.test", "--json")
    reasons = sorted(m["reason"] for m in shown["messages"])
    assert reasons == [
        "Cc address bob@acme.test belongs to contact Bob Smith",
        "From address bob@acme.test belongs to contact Bob Smith",
    ]
    assert set(shown["messages"][0]) == {"id", "subject", "date", "reason"}

    company = mailmatch(home, "companies", "add", "Acme", "--domain", "acme.test", "--json")
    assert company["rematched"] == 3  # bob's two messages and sales@
    assert [c["name"] for c in mailmatch(home, "companies", "list", "--json")] == ["Acme"]

    queue = mailmatch(home, "matches", "unmatched", "--json")
    assert [(q["sender"], q["messages"]) for q in queue] == [
        ("ann@other.test", 1),
        ("noreply@service.test", 1),
    ]
    rule = mailmatch(home, "rules", "ignore", "add", "--pattern", "noreply@*", "--json")
    assert rule["rematched"] == 1
    rules = mailmatch(home, "rules", "ignore", "list", "--json")
    assert [r["name"] for r in rules if not r["builtin"]] == ["pattern:noreply@*"]
    after = mailmatch(home, "matches", "stats", "--json")
    assert after["all"] == {"matched": 3, "unmatched": 1, "ignored": 1}
    mailmatch(home, "rules", "ignore", "remove", str(rule["id"]))
    assert all(r["builtin"] for r in mailmatch(home, "rules", "ignore", "list", "--json"))

    # A receiver on this machine is internal: the owner opens it with MAILMATCH_ALLOW_INTERNAL.
    added = run_mailmatch(
        home,
        *("webhooks", "add", "http://127.0.0.1:9/hook", "--secret", "s", "--json"),
        env={"MAILMATCH_ALLOW_INTERNAL": "127.0.0.1"},
    )
    assert added.returncode == 0, added.stdout + added.stderr
    hook = json.loads(added.stdout)
    assert hook["events"] == ["message.matched", "message.unmatched"]
    assert [h["url"] for h in mailmatch(home, "webhooks", "list", "--json")] == [hook["url"]]


def test_contacts_import_csv_says_which_columns_it_used(tmp_path: Path) -> None:
    home = seeded_home(tmp_path)
    csv = tmp_path / "hubspot.csv"
    csv.write_text(
        "First Name,Last Name,Email,Company Name,Favourite Colour\n"
        "Ann,Other,ann@other.test,Other Inc,blue\n",
        encoding="utf-8",
    )
    summary = mailmatch(home, "contacts", "import", str(csv), "--json")
    assert summary["contacts_created"] == 1 and summary["rematched"] == 2
    assert "Favourite Colour" in summary["ignored_columns"]
    assert summary["used_columns"]["Email"] == "email"


def test_sync_carddav_with_the_accounts_password(tmp_path: Path, radicale: Radicale) -> None:
    home = seeded_home(tmp_path)
    book = radicale.make_addressbook("alice", "contacts", "Contacts")
    radicale.put_card(
        book,
        "ann.vcf",
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:ann-1\r\nFN:Ann Other\r\n"
        "EMAIL:ann@other.test\r\nEND:VCARD\r\n",
        "alice",
    )
    mailmatch(
        home,
        "accounts",
        "add",
        "alice@example.test",
        "--name",
        "alice",
        "--password-stdin",
        "--no-test",
        "--imap-host",
        "localhost",
        "--smtp-host",
        "localhost",
        stdin=radicale.users["alice"],
    )

    summary = mailmatch(
        home,
        "contacts",
        "sync-carddav",
        "--account",
        "alice",
        "--url",
        radicale.url,
        "--username",
        "alice",
        "--json",
    )

    # The server is shared by the session's tests: other cards may be in alice's books too.
    assert summary["contacts_created"] >= 1 and summary["rematched"] == 2
    contacts = mailmatch(home, "contacts", "list", "--json")
    assert ("Ann Other", 2) in [(c["name"], c["messages"]) for c in contacts]


def test_a_broken_regular_expression_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    home = tmp_path / "home"
    refused = run_mailmatch(home, "rules", "ignore", "add", "--pattern", "re:(unclosed", "--json")
    assert refused.returncode == 1
    error = json.loads(refused.stdout)["error"]
    assert error["code"] == "invalid_input"
    assert "not a regular expression" in error["message"]


def import_people(home: Path, count: int) -> None:
    """``count`` contacts of 20 companies, stored the way a CSV import stores them."""
    db = open_database(load_settings({"MAILMATCH_HOME": str(home)}))
    records = ImportedRecords(
        contacts=[
            ContactRecord(f"Person {i:05d}", [f"p{i}@c{i % 20}.test"], company=f"Co {i % 20}")
            for i in range(count)
        ],
        companies=[CompanyRecord(f"Co {i}", [f"c{i}.test"]) for i in range(20)],
        used_columns={},
        ignored_columns=[],
        skipped=[],
        source="test",
    )
    RecordImporter(db).import_records(records)
    db.engine.dispose()


@pytest.fixture
def in_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., int]]:
    """Run a command in this process and count the SQL statements it sends.

    ``run(home, *args)`` returns the count; the command's root-logger file handler is taken
    away afterwards so later tests log where they expect.
    """
    for key in [k for k in os.environ if k.startswith("MAILMATCH_")]:
        monkeypatch.delenv(key)
    handlers = list(logging.getLogger().handlers)
    statements = 0

    def count(*_args: Any) -> None:
        nonlocal statements
        statements += 1

    def run(home: Path, *args: str) -> int:
        nonlocal statements
        monkeypatch.setenv("MAILMATCH_HOME", str(home))
        statements = 0
        event.listen(Engine, "before_cursor_execute", count)
        try:
            result = CliRunner().invoke(app, list(args))
        finally:
            event.remove(Engine, "before_cursor_execute", count)
        assert result.exit_code == 0, result.output
        return statements

    yield run
    for handler in logging.getLogger().handlers:
        if handler not in handlers:
            logging.getLogger().removeHandler(handler)
            handler.close()


def test_contacts_list_costs_the_same_few_queries_for_many_contacts(
    tmp_path: Path, in_process: Callable[..., int]
) -> None:
    """100,000 contacts took minutes when every contact cost three queries of its own."""
    few, many = tmp_path / "few", tmp_path / "many"
    import_people(few, 10)
    import_people(many, 2_500)
    for args in (("contacts", "list", "--json"), ("contacts", "list")):
        in_process(few, *args)  # the first run of a home may migrate; count the second
        assert in_process(many, *args) - in_process(few, *args) <= 10


def test_contacts_list_streams_every_contact(tmp_path: Path) -> None:
    home = tmp_path / "home"
    import_people(home, 1_500)  # more than one table's worth: printed as plain columns

    listed = mailmatch(home, "contacts", "list", "--json")
    assert len(listed) == 1_500
    assert listed[7] == {
        "id": listed[7]["id"], "name": "Person 00007", "emails": ["p7@c7.test"],
        "company": "Co 7", "title": None, "owner": None, "tags": [], "custom": {},
        "messages": 0,
    }  # fmt: skip
    assert [c["name"] for c in listed] == sorted(c["name"] for c in listed)

    text = mailmatch(home, "contacts", "list").splitlines()
    assert text[0].split() == ["name", "emails", "company", "messages"]
    assert text[2].split() == ["Person", "00000", "p0@c0.test", "Co", "0", "0"]
    assert len(text) == 2 + 1_500 and text[-1].split()[2] == "p1499@c19.test"


def test_empty_lists_say_what_to_do_and_json_stays_a_list(tmp_path: Path) -> None:
    home = tmp_path / "home"
    for what, sentence in (
        ("contacts", "No contacts yet. Add one with: mailmatch contacts add"),
        ("companies", "No companies yet. Add one with: mailmatch companies add"),
        ("webhooks", "No webhooks yet. Add one with: mailmatch webhooks add"),
    ):
        text = mailmatch(home, what, "list")
        assert text.startswith(sentence) and "┏" not in text, text
        assert mailmatch(home, what, "list", "--json") == []
    unmatched = mailmatch(home, "matches", "unmatched")
    assert unmatched.startswith("No unmatched senders") and "┏" not in unmatched


def test_records_are_edited_and_removed_and_their_mail_follows(tmp_path: Path) -> None:
    home = seeded_home(tmp_path)
    mailmatch(home, "contacts", "add", "bob@acme.test", "--name", "Bob", "--company", "Acme")
    mailmatch(home, "companies", "add", "Acme", "--domain", "acme.test")
    mailmatch(home, "deals", "add", "Renewal", "--contact", "bob@acme.test")

    moved = mailmatch(
        home,
        *("contacts", "edit", "bob@acme.test", "--name", "Robert"),
        *("--add-email", "ann@other.test", "--remove-email", "bob@acme.test", "--json"),
    )
    assert moved["emails"] == ["ann@other.test"] and moved["name"] == "Robert"
    assert moved["rematched"] == 3  # bob@'s two messages and ann@'s other one
    shown = mailmatch(home, "contacts", "show", "ann@other.test", "--json")
    assert sorted(m["reason"] for m in shown["messages"]) == [
        "From address ann@other.test belongs to contact Robert",
        "From address ann@other.test belongs to contact Robert",
    ]

    renamed = mailmatch(
        home, "companies", "edit", "Acme", "--name", "Acme Corp", "--remove-domain", "acme.test",
        "--add-domain", "other.test", "--json",
    )  # fmt: skip
    assert renamed["domains"] == ["other.test"] and renamed["name"] == "Acme Corp"
    deal = mailmatch(
        home, "deals", "edit", "Renewal", "--stage", "won", "--closed", "--company", "Acme Corp",
        "--json",
    )  # fmt: skip
    assert (deal["stage"], deal["is_open"], deal["company"]) == ("won", False, "Acme Corp")

    text = mailmatch(home, "companies", "remove", "Acme Corp")
    assert "Removed company Acme Corp; re-matched 2 message(s)." in text
    assert mailmatch(home, "deals", "remove", "Renewal", "--json")["company"] is None
    gone = mailmatch(home, "contacts", "remove", "ann@other.test", "--json")
    assert gone["rematched"] == 2
    assert mailmatch(home, "contacts", "list", "--json") == []
    assert mailmatch(home, "matches", "stats", "--json")["all"] == {
        "matched": 0,
        "unmatched": 5,
        "ignored": 0,
    }
    missing = run_mailmatch(home, "contacts", "remove", "nobody@x.test", "--json")
    assert missing.returncode == 1
    assert json.loads(missing.stdout)["error"]["code"] == "not_found"


def test_contacts_import_names_the_lines_it_read_as_windows_1252(tmp_path: Path) -> None:
    home = tmp_path / "home"
    path = tmp_path / "merged.csv"
    path.write_bytes(
        "Name,E-mail\nJosé Müller,jose@firma.example\n".encode()
        + "François Dœuf,francois@firma.example\n".encode("cp1252")
    )

    report = mailmatch(home, "contacts", "import", str(path), "--json")
    text = mailmatch(home, "contacts", "import", str(path))
    shown = mailmatch(home, "contacts", "list", "--json")

    assert report["fallback_lines"] == [3]
    assert "read as Windows-1252 (check their accents): line(s) 3" in " ".join(text.split())
    assert sorted(c["name"] for c in shown) == ["François Dœuf", "José Müller"]
