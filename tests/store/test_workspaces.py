"""Workspaces keep tenants apart: the same mail in two workspaces is two sets of rows over one
set of blobs, and nothing of one workspace (messages, records, rules, accounts, imports,
webhooks) is visible, by name or by id, from another."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from mailmatch.accounts.service import AccountService, NewAccount, ServerOverride
from mailmatch.accounts.vault import Vault
from mailmatch.config import load_settings
from mailmatch.contacts.rules import RuleService
from mailmatch.contacts.service import RecordService
from mailmatch.errors import AlreadyExists, MailmatchError, NotFound
from mailmatch.files.writers import MboxWriter
from mailmatch.imports.export import export
from mailmatch.imports.files import import_file
from mailmatch.imports.messages import MessageService
from mailmatch.imports.service import ImportService
from mailmatch.matching.service import MatchService, load_rules
from mailmatch.net.guard import AllowList, Guard
from mailmatch.pipeline.runner import Pipeline
from mailmatch.pipeline.writer import BatchWriter
from mailmatch.providers.models import Security
from mailmatch.store.db import Database, open_database
from mailmatch.store.messages import MessageStore
from mailmatch.store.models import DEFAULT_WORKSPACE_ID, Blob, Message, Thread
from mailmatch.store.records import MatchState
from mailmatch.store.workspaces import create_workspace, list_workspaces, workspace_id
from mailmatch.sync.runner import ImportRunner
from mailmatch.webhooks.service import WebhookService
from tests.store.test_messages import mail

A = DEFAULT_WORKSPACE_ID


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return open_database(load_settings({"MAILMATCH_HOME": str(tmp_path)}))


@pytest.fixture
def b(db: Database) -> int:
    """A second workspace next to the default one (``A``)."""
    return create_workspace(db, "b")


def error_of(call: object) -> tuple[type[BaseException], str]:
    """The type and message a call fails with, to compare "elsewhere" with "never existed"."""
    assert callable(call)
    with pytest.raises(MailmatchError) as info:
        call()
    return type(info.value), info.value.message


def test_workspaces_are_created_found_by_name_and_listed(db: Database) -> None:
    assert workspace_id(db, "default") == DEFAULT_WORKSPACE_ID
    team = create_workspace(db, "team")
    assert team != DEFAULT_WORKSPACE_ID and workspace_id(db, "team") == team
    assert [w.name for w in list_workspaces(db)] == ["default", "team"]
    with pytest.raises(AlreadyExists):
        create_workspace(db, "team")
    with pytest.raises(NotFound) as unknown:
        workspace_id(db, "nope")
    assert "no workspace named 'nope'" in unknown.value.message


def test_the_same_mbox_in_two_workspaces_is_two_message_rows_over_one_blob(
    db: Database, b: int, corpus_messages: list[bytes], tmp_path: Path
) -> None:
    mbox = tmp_path / "sample.mbox"
    with MboxWriter(mbox) as writer:
        for raw in corpus_messages[:300]:
            writer.add(raw)
    store_a, store_b = MessageStore(db), MessageStore(db, workspace_id=b)

    first = import_file(store_a, mbox, batch_size=100)
    blobs_after_a = blob_count(db)
    second = import_file(store_b, mbox, batch_size=100)
    again = import_file(store_b, mbox, batch_size=100)

    assert first.new == second.new > 250  # the sample's few exact repeats are deduplicated
    assert again.new == 0 and again.skipped_duplicates == again.messages
    assert store_a.count() == store_b.count() == first.new
    with db.session() as session:
        shas = {
            ws: set(session.scalars(select(Message.sha256).where(Message.workspace_id == ws)))
            for ws in (A, b)
        }
        thread_owners = {
            ws: set(
                session.scalars(
                    select(Message.thread_id).where(Message.workspace_id == ws).distinct()
                )
            )
            for ws in (A, b)
        }
        thread_rows = session.scalar(
            select(func.count(func.distinct(Thread.workspace_id))).where(
                Thread.id.in_(thread_owners[b])
            )
        )
    assert shas[A] == shas[b] and blob_count(db) == blobs_after_a  # B's rows share A's blobs
    assert not thread_owners[A] & thread_owners[b] and thread_rows == 1  # threads never cross
    hits_a, hits_b = store_a.search("money", 500), store_b.search("money", 500)
    assert len(hits_a) == len(hits_b) > 0 and not set(hits_a) & set(hits_b)

    out_a, out_b = tmp_path / "a.mbox", tmp_path / "b.mbox"
    assert export(store_a, "mbox", out_a) == export(store_b, "mbox", out_b) == first.new
    assert out_a.read_bytes() == out_b.read_bytes()


def blob_count(db: Database) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(Blob)).scalar_one())


def test_message_service_of_one_workspace_cannot_see_anothers_messages(
    db: Database, b: int
) -> None:
    secret = MessageStore(db).add_batch([mail("s@x", "merger plans", body="confidential")])
    pk = secret.message_pks[0]
    in_a, in_b = MessageService(MessageStore(db)), MessageService(MessageStore(db, workspace_id=b))
    assert in_a.show(pk)["subject"] == "merger plans" and in_a.search("confidential")

    missing = 10_000
    assert error_of(lambda: in_b.show(pk)) == (NotFound, f"no message {pk}")
    assert error_of(lambda: in_b.show(missing)) == (NotFound, f"no message {missing}")
    assert error_of(lambda: in_b.raw(pk)) == (NotFound, f"no message {pk}")
    assert in_b.search("confidential") == [] and in_b.search("merger") == []
    assert MessageStore(db, workspace_id=b).count() == 0
    assert list(MessageStore(db, workspace_id=b).iter_raw()) == []


def test_a_contact_in_one_workspace_never_links_anothers_mail(db: Database, b: int) -> None:
    batch = [mail("m1@x", "hello", frm="carol@acme.test"), mail("m2@x", "hi", frm="dan@acme.test")]
    in_a = MessageStore(db).add_batch(batch)
    in_b = MessageStore(db, workspace_id=b).add_batch(batch)
    records_a, records_b = RecordService(db), RecordService(db, workspace_id=b)
    records_a.matches.match_messages(in_a.message_pks)
    records_b.matches.match_messages(in_b.message_pks)

    contact = records_a.add_contact("carol@acme.test", "Carol")
    company = records_a.add_company("Acme", ["acme.test"])

    assert (contact.rematched, company.rematched) == (1, 2)
    assert MatchService(db, workspace_id=b).match_all() == 2  # B, matched afresh: still nothing
    with db.session() as session:
        states = dict(session.execute(select(MatchState.message_pk, MatchState.status)).all())
    assert [states[pk] for pk in in_a.message_pks] == ["matched", "matched"]
    assert [states[pk] for pk in in_b.message_pks] == ["unmatched", "unmatched"]
    assert records_b.contacts() == [] and records_b.companies() == []
    assert error_of(lambda: records_b.show_contact("carol@acme.test")) == (
        NotFound,
        "no contact with carol@acme.test",
    )
    assert error_of(lambda: records_b.add_deal("Renewal", company="Acme"))[0] is NotFound

    # The same address and company name may exist in B too, with B's mail only.
    again = records_b.add_contact("carol@acme.test", "Carol B", company="Acme")
    assert again.rematched == 1
    timeline_b = records_b.show_contact("carol@acme.test")["messages"]
    assert [m["id"] for m in timeline_b] == [in_b.message_pks[0]]
    timeline_a = records_a.show_contact("carol@acme.test")["messages"]
    assert [m["id"] for m in timeline_a] == [in_a.message_pks[0]]
    assert MatchService(db, workspace_id=b).stats().to_json() == {
        "matched": 1,
        "unmatched": 1,
        "ignored": 0,
    }


def new_account(name: str, address: str) -> NewAccount:
    """Settings typed in full, so nothing is discovered over the network."""
    return NewAccount(
        address=address,
        name=name,
        imap=ServerOverride("imap.example.test", 993, Security.SSL),
        smtp=ServerOverride("smtp.example.test", 465, Security.SSL),
    )


def accounts_in(db: Database, tmp_path: Path, ws: int) -> AccountService:
    settings = load_settings({"MAILMATCH_HOME": str(tmp_path)})
    return AccountService(settings, db, Vault.from_settings(settings), workspace_id=ws)


def test_account_and_import_names_repeat_across_workspaces(
    db: Database, b: int, tmp_path: Path
) -> None:
    acc_a, acc_b = accounts_in(db, tmp_path, A), accounts_in(db, tmp_path, b)
    acc_a.add(new_account("work", "me@a.test"), "pw-a", test=False)
    acc_b.add(new_account("work", "me@b.test"), "pw-b", test=False)
    acc_a.add(new_account("only-a", "other@a.test"), "pw", test=False)
    imports_a, imports_b = ImportService(db), ImportService(db, workspace_id=b)
    imports_a.create("daily", "work", None, 3600)
    imports_b.create("daily", "work", ["INBOX"], None)
    imports_a.create("only-a", "only-a", None, None)

    assert [v.address for v in acc_b.list()] == ["me@b.test"]
    assert acc_a.password("work") == "pw-a" and acc_b.password("work") == "pw-b"
    assert [v.name for v in imports_b.list()] == ["daily"]
    assert imports_b.get("daily").folders == ["INBOX"] and imports_a.get("daily").folders is None
    with pytest.raises(AlreadyExists):
        acc_b.add(new_account("work", "again@b.test"), "pw", test=False)

    # A name that exists only in A is, from B, exactly a name that exists nowhere.
    for elsewhere, nowhere in [
        (lambda: acc_b.get("only-a"), lambda: acc_b.get("ghost")),
        (lambda: acc_b.password("only-a"), lambda: acc_b.password("ghost")),
        (lambda: acc_b.remove("only-a"), lambda: acc_b.remove("ghost")),
        (lambda: imports_b.get("only-a"), lambda: imports_b.get("ghost")),
        (lambda: imports_b.remove("only-a"), lambda: imports_b.remove("ghost")),
        (lambda: ImportRunner(acc_b).run("only-a"), lambda: ImportRunner(acc_b).run("ghost")),
    ]:
        assert error_of(elsewhere)[0] is NotFound
        assert error_of(elsewhere)[1].replace("only-a", "ghost") == error_of(nowhere)[1]
    assert error_of(lambda: imports_b.create("x", "only-a", None, None))[0] is NotFound
    assert acc_a.get("only-a").address == "other@a.test"  # nothing was removed
    acc_b.remove("work")
    assert acc_a.get("work").address == "me@a.test" and imports_b.list() == []


def test_ids_of_another_workspace_behave_as_missing(db: Database, b: int, tmp_path: Path) -> None:
    rules_a, rules_b = RuleService(db), RuleService(db, workspace_id=b)
    rule = rules_a.add_rule("pattern", "noreply@*").record["id"]
    settings = load_settings({"MAILMATCH_HOME": str(tmp_path)})
    vault = Vault.from_settings(settings)
    hook = WebhookService(db, vault).add("https://a.example/hook", "s")["id"]
    hooks_b = WebhookService(db, vault, workspace_id=b)
    stored = MessageStore(db).add_batch([mail("r@x", "hi", frm="noreply@shop.test")])
    MatchService(db).match_messages(stored.message_pks)
    before = match_state(db, stored.message_pks[0])

    assert error_of(lambda: rules_b.remove_rule(rule)) == (NotFound, f"no rule {rule}")
    assert error_of(lambda: hooks_b.log(hook)) == (NotFound, f"no webhook {hook}")
    assert hooks_b.all() == [] and [r["name"] for r in rules_b.rules()] == []
    # Matching A's message ids from B does nothing at all (no outcome, no state change).
    assert MatchService(db, workspace_id=b).match_messages(stored.message_pks) == []
    assert match_state(db, stored.message_pks[0]) == before
    # The same rule may exist in B, and removing A's from A still works.
    rules_b.add_rule("pattern", "noreply@*")
    assert rules_a.remove_rule(rule).rematched == 1


def match_state(db: Database, pk: int) -> tuple[object, ...]:
    with db.read() as conn:
        row = conn.execute(
            select(MatchState.status, MatchState.detail, MatchState.matched_at).where(
                MatchState.message_pk == pk
            )
        ).one()
    return tuple(row)


def test_own_address_rules_come_only_from_the_workspaces_accounts(
    db: Database, b: int, tmp_path: Path
) -> None:
    accounts_in(db, tmp_path, A).add(new_account("me", "me@corp.test"), "pw", test=False)
    accounts_in(db, tmp_path, b).add(new_account("me", "boss@agency.test"), "pw", test=False)
    with db.read() as conn:
        names_a = [r.name for r in load_rules(conn, A)]
        names_b = [r.name for r in load_rules(conn, b)]
    assert names_a == ["own-address:me@corp.test", "own-domain:corp.test"]
    assert names_b == ["own-address:boss@agency.test", "own-domain:agency.test"]

    # Mail from A's owner is internal in A and outside mail in B (B's client, say).
    note = [mail("n@x", "proposal", frm="me@corp.test", to="boss@agency.test")]
    in_a = MessageStore(db).add_batch(note).message_pks
    in_b = MessageStore(db, workspace_id=b).add_batch(note).message_pks
    (outcome_a,) = MatchService(db).match_messages(in_a)
    (outcome_b,) = MatchService(db, workspace_id=b).match_messages(in_b)
    assert outcome_a.status == "unmatched" and outcome_a.unmatched_sender == "boss@agency.test"
    assert outcome_b.status == "unmatched" and outcome_b.unmatched_sender == "me@corp.test"


def test_a_workspaces_events_go_to_its_own_webhooks_only(
    db: Database, b: int, tmp_path: Path
) -> None:
    import httpx

    settings = load_settings({"MAILMATCH_HOME": str(tmp_path)})
    vault = Vault.from_settings(settings)
    # Both receivers are hosts an administrator opened; nothing is looked up or connected to.
    opened = Guard(AllowList.parse(["a.example", "b.example"]), resolve=lambda host: ["127.0.0.1"])
    hooks_a = WebhookService(db, vault, guard=opened)
    hooks_b = WebhookService(db, vault, workspace_id=b, guard=opened)
    hook_a = hooks_a.add("https://a.example/hook", "sa")["id"]
    hook_b = hooks_b.add("https://b.example/hook", "sb")["id"]
    note = [mail("w@x", "order", frm="carol@acme.test")]
    BatchWriter(MessageStore(db), Pipeline(db)).write(note)  # stored, matched, queued

    posted: list[str] = []

    def receive(request: httpx.Request) -> httpx.Response:
        posted.append(f"{request.url.scheme}://{request.headers['host']}{request.url.path}")
        return httpx.Response(200)

    client = httpx.Client(transport=httpx.MockTransport(receive))
    assert hooks_b.deliver_due(client).delivered == 0  # B has nothing of its own to send
    assert [len(hooks_a.log(hook_a)), len(hooks_b.log(hook_b))] == [1, 0]
    assert hooks_b.deliver_due(client, all_workspaces=True).delivered == 1  # the scheduler's way
    assert posted == ["https://a.example/hook"]
