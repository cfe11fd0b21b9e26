"""Commands for contacts, companies and deals (their edit and remove: :mod:`.record_edits`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from mailmatch.cli import render
from mailmatch.cli.common import (
    JsonOpt,
    _emit,
    _emit_stream,
    _print_change,
    _raise,
    _records,
    _run,
    _service,
    _settings,
    _workspace,
    out,
)
from mailmatch.config import Settings
from mailmatch.errors import InvalidInput

contacts_app = typer.Typer(no_args_is_help=True, help="People mail is matched to.")
companies_app = typer.Typer(no_args_is_help=True, help="Companies, matched by domain.")
deals_app = typer.Typer(no_args_is_help=True, help="Open deals, matched via their contacts.")


def _queries(settings: Settings) -> Any:
    from mailmatch.contacts.queries import RecordQueries

    db, workspace_id = _workspace(settings)
    return RecordQueries(db, workspace_id=workspace_id)


def _importer(settings: Settings) -> Any:
    from mailmatch.contacts.bulk import RecordImporter

    db, workspace_id = _workspace(settings)
    return RecordImporter(db, workspace_id=workspace_id)


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
