"""The records commands as a user runs them: contacts, companies, rules, matches, webhooks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mailmatch.config import load_settings
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

    hook = mailmatch(home, "webhooks", "add", "http://127.0.0.1:9/hook", "--secret", "s", "--json")
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
