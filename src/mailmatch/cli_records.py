"""Commands for contacts, companies, deals, ignore rules, matches and webhooks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from mailmatch import render
from mailmatch.cli import (
    JsonOpt,
    _emit,
    _emit_stream,
    _run,
    _service,
    _settings,
    _workspace,
    app,
    out,
)
from mailmatch.config import Settings
from mailmatch.errors import InvalidInput

contacts_app = typer.Typer(no_args_is_help=True, help="People mail is matched to.")
companies_app = typer.Typer(no_args_is_help=True, help="Companies, matched by domain.")
deals_app = typer.Typer(no_args_is_help=True, help="Open deals, matched via their contacts.")
rules_app = typer.Typer(no_args_is_help=True, help="Rules that keep mail out of records.")
ignore_app = typer.Typer(no_args_is_help=True, help="Ignore rules by address, domain, pattern.")
matches_app = typer.Typer(no_args_is_help=True, help="What mail matched, and what did not.")
webhooks_app = typer.Typer(no_args_is_help=True, help="Signed HTTP callbacks on matches.")
for sub, name in (
    (contacts_app, "contacts"),
    (companies_app, "companies"),
    (deals_app, "deals"),
    (rules_app, "rules"),
    (matches_app, "matches"),
    (webhooks_app, "webhooks"),
):
    app.add_typer(sub, name=name)
rules_app.add_typer(ignore_app, name="ignore")


def _records(settings: Settings) -> Any:
    from mailmatch.contacts.service import RecordService

    db, workspace_id = _workspace(settings)
    return RecordService(db, workspace_id=workspace_id)


def _queries(settings: Settings) -> Any:
    from mailmatch.contacts.queries import RecordQueries

    db, workspace_id = _workspace(settings)
    return RecordQueries(db, workspace_id=workspace_id)


def _importer(settings: Settings) -> Any:
    from mailmatch.contacts.bulk import RecordImporter

    db, workspace_id = _workspace(settings)
    return RecordImporter(db, workspace_id=workspace_id)


def _rules(settings: Settings) -> Any:
    from mailmatch.contacts.rules import RuleService

    db, workspace_id = _workspace(settings)
    return RuleService(db, workspace_id=workspace_id)


def _print_change(change: Any, what: str) -> None:
    out.print(f"{what}; re-matched {change.rematched} message(s).", highlight=False, markup=False)


# -- contacts --------------------------------------------------------------------------------


@contacts_app.command("import")
def contacts_import(
    path: Annotated[Path, typer.Argument(metavar="FILE", help=".csv or .vcf")],
    as_json: JsonOpt = False,
) -> None:
    """Import contacts (and companies) from a CSV export or a vCard file."""
    settings = _settings()

    def read() -> Any:
        from mailmatch.contacts.file_import import read_contacts_file

        return read_contacts_file(path)

    records = _run(read, as_json)
    summary = _run(lambda: _importer(settings).import_records(records), as_json)
    if as_json:
        _emit(summary)
        return
    out.print(
        f"{summary['contacts_created']} contacts created, {summary['contacts_updated']} updated, "
        f"{summary['companies']} companies ({summary['source']}); "
        f"re-matched {summary['rematched']} messages.",
        highlight=False,
    )
    for column, use in summary["used_columns"].items():
        out.print(f"  used column {column!r} as {use}", highlight=False, markup=False)
    if summary["ignored_columns"]:
        out.print(
            f"  ignored columns: {', '.join(summary['ignored_columns'])}",
            highlight=False,
            markup=False,
        )
    for skipped in summary["skipped"]:
        out.print(
            f"  skipped {skipped['item']}: {skipped['reason']}", highlight=False, markup=False
        )
    if lines := summary.get("fallback_lines"):
        shown = ", ".join(str(n) for n in lines[:10]) + (
            f" and {len(lines) - 10} more" if len(lines) > 10 else ""
        )
        out.print(
            f"  not UTF-8, read as Windows-1252 (check their accents): line(s) {shown}",
            highlight=False,
            markup=False,
        )


@contacts_app.command("sync-carddav")
def contacts_sync_carddav(
    account: Annotated[str, typer.Option("--account", help="Use this account's login.")],
    url: Annotated[str | None, typer.Option(help="The CardDAV server (iCloud: default).")] = None,
    username: Annotated[
        str | None, typer.Option(help="CardDAV login, when it is not the account's address.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Import an address book over CardDAV with the account's app-specific password."""
    from mailmatch.contacts.carddav import fetch_address_books

    settings = _settings()
    accounts = _run(lambda: _service(settings), as_json)
    view = _run(lambda: accounts.get(account), as_json)
    target = url or ("https://contacts.icloud.com" if view.provider_id == "icloud" else None)
    if target is None:
        _run(lambda: _raise(InvalidInput("give the CardDAV server with --url")), as_json)
    verify: bool | str = view.ca_file or True
    records = _run(
        lambda: fetch_address_books(
            str(target), username or view.address, accounts.password(account), verify=verify
        ),
        as_json,
    )
    summary = _run(lambda: _importer(settings).import_records(records), as_json)
    if as_json:
        _emit(summary)
    else:
        out.print(
            f"{summary['contacts_created']} contacts created, {summary['contacts_updated']} "
            f"updated from {target}; re-matched {summary['rematched']} messages."
        )


def _raise(exc: Exception) -> None:
    raise exc


@contacts_app.command("add")
def contacts_add(
    email: str,
    name: Annotated[str | None, typer.Option(help="Full name.")] = None,
    company: Annotated[str | None, typer.Option(help="Company name (created if new).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a contact (or an address to one); its mail is re-matched at once."""
    settings = _settings()
    change = _run(lambda: _records(settings).add_contact(email, name, company), as_json)
    if as_json:
        _emit(change.to_json())
    else:
        _print_change(change, f"Saved contact {change.record['name'] or email}")


@contacts_app.command("list")
def contacts_list(as_json: JsonOpt = False) -> None:
    """Every contact with its addresses and matched-message count, streamed as it is read."""
    settings = _settings()
    queries = _run(lambda: _queries(settings), as_json)
    contacts = queries.contact_records()
    if as_json:
        _run(lambda: _emit_stream(contacts), as_json)
        return
    rows = (
        (c["name"], ", ".join(c["emails"]), c["company"] or "", str(c["messages"]))
        for c in contacts
    )
    _run(
        lambda: render.print_rows(
            out,
            ("name", "emails", "company", "messages"),
            rows,
            "No contacts yet. Add one with: mailmatch contacts add EMAIL --name NAME, "
            "or import a file: mailmatch contacts import FILE",
        )
    )


@contacts_app.command("show")
def contacts_show(email: str, as_json: JsonOpt = False) -> None:
    """A contact and the timeline of its mail, each message with the reason it matched."""
    settings = _settings()
    data = _run(lambda: _records(settings).show_contact(email), as_json)
    if as_json:
        _emit(data)
        return
    c = data["contact"]
    out.print(
        f"[bold]{escape(c['name'] or c['emails'][0])}[/] {escape(', '.join(c['emails']))}",
        highlight=False,
    )
    if c["company"]:
        out.print(f"  company: {c['company']}", highlight=False, markup=False)
    for m in data["messages"]:
        out.print(
            f"  {(m['date'] or '')[:10]}  #{m['id']}  {m['subject']}", highlight=False, markup=False
        )
        out.print(f"      {m['reason']}", style="dim", highlight=False, markup=False)


# -- companies and deals ---------------------------------------------------------------------


@companies_app.command("add")
def companies_add(
    name: str,
    domain: Annotated[list[str], typer.Option("--domain", help="A domain (repeatable).")],
    as_json: JsonOpt = False,
) -> None:
    """Add a company with its domains (never a free-mail domain)."""
    settings = _settings()
    change = _run(lambda: _records(settings).add_company(name, domain), as_json)
    if as_json:
        _emit(change.to_json())
    else:
        _print_change(change, f"Saved company {name}")


@companies_app.command("list")
def companies_list(as_json: JsonOpt = False) -> None:
    settings = _settings()
    rows = _run(lambda: _records(settings).companies(), as_json)
    if as_json:
        _emit(rows)
        return
    table = Table("name", "domains", "messages")
    for c in rows:
        table.add_row(c["name"], ", ".join(c["domains"]), str(c["messages"]))
    render.print_table(
        out, table, "No companies yet. Add one with: mailmatch companies add NAME --domain DOMAIN"
    )


@deals_app.command("add")
def deals_add(
    title: str,
    company: Annotated[str | None, typer.Option(help="The company's name.")] = None,
    contact: Annotated[
        list[str] | None, typer.Option(help="A contact's email (repeatable).")
    ] = None,
    stage: Annotated[str, typer.Option(help="Pipeline stage.")] = "open",
    amount: Annotated[float | None, typer.Option(help="Deal value.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add an open deal; mail of its contacts and company links to it."""
    settings = _settings()
    change = _run(
        lambda: _records(settings).add_deal(
            title, company=company, contacts=contact, stage=stage, amount=amount
        ),
        as_json,
    )
    if as_json:
        _emit(change.to_json())
    else:
        _print_change(change, f"Saved deal {title}")


# -- rules -----------------------------------------------------------------------------------


@ignore_app.command("add")
def ignore_add(
    address: Annotated[str | None, typer.Option(help="Ignore one address.")] = None,
    domain: Annotated[str | None, typer.Option(help="Ignore a domain and its subdomains.")] = None,
    pattern: Annotated[str | None, typer.Option(help="Glob like noreply@*, or re:REGEX.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Keep mail from or to matching addresses out of records."""
    given = [
        (k, v) for k, v in (("address", address), ("domain", domain), ("pattern", pattern)) if v
    ]
    if len(given) != 1:
        _run(lambda: _raise(InvalidInput("give exactly one of --address, --domain, --pattern")))
    kind, value = given[0]
    settings = _settings()
    change = _run(lambda: _rules(settings).add_rule(kind, str(value)), as_json)
    if as_json:
        _emit(change.to_json())
    else:
        _print_change(change, f"Added rule {change.record['id']}: ignore {kind} {value}")


@ignore_app.command("list")
def ignore_list(as_json: JsonOpt = False) -> None:
    """Your rules, then the built-in ones (your own addresses and domains)."""
    settings = _settings()
    rows = _run(lambda: _rules(settings).rules(), as_json)
    if as_json:
        _emit(rows)
        return
    table = Table("id", "rule", "what it does")
    for r in rows:
        table.add_row(str(r["id"]) if r["id"] else "built-in", r["name"], r["description"])
    render.print_table(
        out, table, "No ignore rules yet. Add one with: mailmatch rules ignore add --pattern GLOB"
    )


@ignore_app.command("remove")
def ignore_remove(
    rule_id: Annotated[int, typer.Argument(metavar="ID")], as_json: JsonOpt = False
) -> None:
    settings = _settings()
    change = _run(lambda: _rules(settings).remove_rule(rule_id), as_json)
    if as_json:
        _emit(change.to_json())
    else:
        _print_change(change, f"Removed rule {rule_id}")


# -- matches ---------------------------------------------------------------------------------


def _matches(settings: Settings) -> Any:
    from mailmatch.matching.service import MatchService

    db, workspace_id = _workspace(settings)
    return MatchService(db, workspace_id=workspace_id)


@matches_app.command("stats")
def matches_stats(as_json: JsonOpt = False) -> None:
    """Matched, unmatched and ignored messages: the last 30 days (top level) and in all."""
    settings = _settings()
    service = _run(lambda: _matches(settings), as_json)
    recent, total = service.stats(days=30).to_json(), service.stats().to_json()
    if as_json:
        _emit({**recent, "last_30_days": recent, "all": total})
        return
    table = Table("", "matched", "unmatched", "ignored")
    table.add_row("last 30 days", *(str(recent[k]) for k in ("matched", "unmatched", "ignored")))
    table.add_row("all", *(str(total[k]) for k in ("matched", "unmatched", "ignored")))
    render.print_table(out, table, "No messages yet.")


@matches_app.command("unmatched")
def matches_unmatched(
    limit: Annotated[int, typer.Option(help="At most this many senders.")] = 100,
    as_json: JsonOpt = False,
) -> None:
    """Senders with mail but no record: create a contact or an ignore rule for each."""
    settings = _settings()
    rows = _run(lambda: _matches(settings).unmatched(limit), as_json)
    if as_json:
        _emit(rows)
        return
    table = Table("sender", "name", "messages", "last")
    for r in rows:
        table.add_row(r["sender"] or "", r["name"], str(r["messages"]), (r["last_date"] or "")[:10])
    if not rows:
        out.print("No unmatched senders: every stored message is matched or ignored.")
        return
    out.print(table)
    out.print(
        "Create a contact: mailmatch contacts add EMAIL --name N   "
        "Ignore: mailmatch rules ignore add --address EMAIL"
    )


@matches_app.command("run")
def matches_run(as_json: JsonOpt = False) -> None:
    """Match every stored message again (normally not needed: changes re-match by themselves)."""
    settings = _settings()
    count = _run(lambda: _matches(settings).match_all(), as_json)
    if as_json:
        _emit({"matched_messages": count})
    else:
        out.print(f"Matched {count} messages.")


# -- webhooks --------------------------------------------------------------------------------


def _webhooks(settings: Settings) -> Any:
    from mailmatch.accounts.vault import Vault
    from mailmatch.net.guard import Guard
    from mailmatch.webhooks.service import WebhookService

    db, workspace_id = _workspace(settings)
    return WebhookService(
        db,
        Vault.from_settings(settings, db),
        workspace_id=workspace_id,
        guard=Guard.from_settings(settings),
    )


@webhooks_app.command("add")
def webhooks_add(
    url: str,
    secret: Annotated[str, typer.Option(help="Shared secret for the HMAC signature.")],
    events: Annotated[
        list[str] | None, typer.Option("--events", help="message.matched / message.unmatched")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Call URL on matches; deliveries are signed with HMAC-SHA256 and retried."""
    settings = _settings()
    hook = _run(lambda: _webhooks(settings).add(url, secret, events), as_json)
    if as_json:
        _emit(hook)
    else:
        out.print(f"Added webhook {hook['id']} for {', '.join(hook['events'])}.")


@webhooks_app.command("list")
def webhooks_list(as_json: JsonOpt = False) -> None:
    settings = _settings()
    rows = _run(lambda: _webhooks(settings).all(), as_json)
    if as_json:
        _emit(rows)
        return
    table = Table("id", "url", "events", "delivered", "pending", "failed")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["url"],
            ", ".join(r["events"]),
            str(r["delivered"]),
            str(r["pending"]),
            str(r["failed"]),
        )
    render.print_table(
        out, table, "No webhooks yet. Add one with: mailmatch webhooks add URL --secret SECRET"
    )


@webhooks_app.command("log")
def webhooks_log(
    webhook_id: Annotated[int, typer.Argument(metavar="ID")], as_json: JsonOpt = False
) -> None:
    """The delivery log of one webhook, newest first."""
    settings = _settings()
    # The CLI is the machine owner's: the full answers, internal hosts' included.
    rows = _run(lambda: _webhooks(settings).log(webhook_id, details=True), as_json)
    if as_json:
        _emit(rows)
        return
    if not rows:
        out.print(f"No deliveries yet for webhook {webhook_id}.", highlight=False)
    for r in rows:
        out.print(
            f"#{r['id']} {r['event']} {r['status']} after {r['attempts']} attempt(s) "
            f"{r['last_error'] or ''}",
            highlight=False,
        )


@webhooks_app.command("remove")
def webhooks_remove(
    webhook_id: Annotated[int, typer.Argument(metavar="ID")], as_json: JsonOpt = False
) -> None:
    """Delete a webhook and its delivery log; its pending deliveries are not sent."""
    settings = _settings()
    gone = _run(lambda: _webhooks(settings).remove(webhook_id), as_json)
    if as_json:
        _emit(gone)
    else:
        out.print(
            f"Removed webhook {gone['id']} ({gone['url']}) and "
            f"{gone['deliveries_removed']} logged deliveries.",
            highlight=False,
        )


@webhooks_app.command("deliver")
def webhooks_deliver(as_json: JsonOpt = False) -> None:
    """Send the deliveries that are due now (the worker does this on its own)."""
    settings = _settings()
    report = _run(lambda: _webhooks(settings).deliver_due(), as_json)
    data = {"delivered": report.delivered, "retrying": report.retrying, "failed": report.failed}
    if as_json:
        _emit(data)
    else:
        out.print(
            f"{data['delivered']} delivered, {data['retrying']} to retry, {data['failed']} failed."
        )
