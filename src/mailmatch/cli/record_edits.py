"""``contacts|companies|deals edit|remove``: change or remove a record; its mail re-matches.

A record is named as the other commands name it: a contact by one of its addresses (or its
id), a company by its name (or id), a deal by its title (or id, when titles repeat). With
``--json`` each command prints the record as it now is (removed: as it was) and ``rematched``.
The package adds them to the groups of :mod:`.records`, after the commands there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from mailmatch.cli.common import JsonOpt, _emit, _print_change, _records, _run, _settings
from mailmatch.errors import InvalidInput

if TYPE_CHECKING:
    from mailmatch.contacts.edits import Keep


def _either(value: str | None, none: bool, flag: str) -> str | Keep | None:
    """An option that sets a name, or its ``--no-...`` twin that clears it, or neither."""
    from mailmatch.contacts.edits import KEEP

    if value is not None and none:
        raise InvalidInput(f"give --{flag} or --no-{flag}, not both")
    return None if none else (KEEP if value is None else value)


def _done(change: Any, what: str, as_json: bool) -> None:
    if as_json:
        _emit(change.to_json())
    else:
        _print_change(change, what)


# -- contacts --------------------------------------------------------------------------------


def contacts_edit(
    contact: Annotated[str, typer.Argument(metavar="EMAIL|ID")],
    name: Annotated[str | None, typer.Option(help="New full name.")] = None,
    add_email: Annotated[
        list[str] | None, typer.Option(help="Add an address (repeatable).")
    ] = None,
    remove_email: Annotated[
        list[str] | None, typer.Option(help="Remove an address (repeatable).")
    ] = None,
    company: Annotated[str | None, typer.Option(help="Company name (created if new).")] = None,
    no_company: Annotated[bool, typer.Option("--no-company", help="No company.")] = False,
    title: Annotated[str | None, typer.Option(help="Job title.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Change a contact; the mail of addresses added or removed moves with them."""
    settings = _settings()

    def edit() -> Any:
        from mailmatch.contacts.edits import KEEP  # with the database layer: not at start-up

        records = _records(settings)
        return records.edit_contact(
            records.find_contact(contact),
            name=KEEP if name is None else name,
            company=_either(company, no_company, "company"),
            title=KEEP if title is None else title,
            add_emails=add_email or [],
            remove_emails=remove_email or [],
        )

    change = _run(edit, as_json)
    _done(change, f"Saved contact {change.record['name'] or change.record['emails'][0]}", as_json)


def contacts_remove(
    contact: Annotated[str, typer.Argument(metavar="EMAIL|ID")], as_json: JsonOpt = False
) -> None:
    """Remove a contact; its mail re-matches (to its company, or back to the unmatched queue)."""
    settings = _settings()

    def remove() -> Any:
        records = _records(settings)
        return records.remove_contact(records.find_contact(contact))

    change = _run(remove, as_json)
    _done(change, f"Removed contact {change.record['name'] or contact}", as_json)


# -- companies -------------------------------------------------------------------------------


def companies_edit(
    company: Annotated[str, typer.Argument(metavar="NAME|ID")],
    name: Annotated[str | None, typer.Option(help="New name.")] = None,
    add_domain: Annotated[list[str] | None, typer.Option(help="Add a domain (repeatable).")] = None,
    remove_domain: Annotated[
        list[str] | None, typer.Option(help="Remove a domain (repeatable).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Rename a company or change its domains; the mail of those domains moves."""
    settings = _settings()

    def edit() -> Any:
        from mailmatch.contacts.edits import KEEP  # with the database layer: not at start-up

        records = _records(settings)
        return records.edit_company(
            records.find_company(company),
            name=KEEP if name is None else name,
            add_domains=add_domain or [],
            remove_domains=remove_domain or [],
        )

    change = _run(edit, as_json)
    _done(change, f"Saved company {change.record['name']}", as_json)


def companies_remove(
    company: Annotated[str, typer.Argument(metavar="NAME|ID")], as_json: JsonOpt = False
) -> None:
    """Remove a company; its contacts and deals stay, without it, and its mail re-matches."""
    settings = _settings()

    def remove() -> Any:
        records = _records(settings)
        return records.remove_company(records.find_company(company))

    change = _run(remove, as_json)
    _done(change, f"Removed company {change.record['name']}", as_json)


# -- deals -----------------------------------------------------------------------------------


def deals_edit(
    deal: Annotated[str, typer.Argument(metavar="TITLE|ID")],
    title: Annotated[str | None, typer.Option(help="New title.")] = None,
    stage: Annotated[str | None, typer.Option(help="Pipeline stage.")] = None,
    amount: Annotated[float | None, typer.Option(help="Deal value.")] = None,
    no_amount: Annotated[bool, typer.Option("--no-amount", help="No value.")] = False,
    company: Annotated[str | None, typer.Option(help="An existing company's name.")] = None,
    no_company: Annotated[bool, typer.Option("--no-company", help="No company.")] = False,
    add_contact: Annotated[
        list[str] | None, typer.Option(help="Add a contact by email (repeatable).")
    ] = None,
    remove_contact: Annotated[
        list[str] | None, typer.Option(help="Remove a contact by email (repeatable).")
    ] = None,
    is_open: Annotated[
        bool | None, typer.Option("--open/--closed", help="A closed deal links no new mail.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Change a deal; the mail of its contacts and company re-links."""
    settings = _settings()

    def edit() -> Any:
        from mailmatch.contacts.edits import KEEP  # with the database layer: not at start-up

        if amount is not None and no_amount:
            raise InvalidInput("give --amount or --no-amount, not both")
        records = _records(settings)
        return records.edit_deal(
            records.find_deal(deal),
            title=KEEP if title is None else title,
            stage=KEEP if stage is None else stage,
            amount=None if no_amount else (KEEP if amount is None else amount),
            is_open=KEEP if is_open is None else is_open,
            company=_either(company, no_company, "company"),
            add_contacts=add_contact or [],
            remove_contacts=remove_contact or [],
        )

    change = _run(edit, as_json)
    _done(change, f"Saved deal {change.record['title']}", as_json)


def deals_remove(
    deal: Annotated[str, typer.Argument(metavar="TITLE|ID")], as_json: JsonOpt = False
) -> None:
    """Remove a deal; its contacts and company stay."""
    settings = _settings()

    def remove() -> Any:
        records = _records(settings)
        return records.remove_deal(records.find_deal(deal))

    change = _run(remove, as_json)
    _done(change, f"Removed deal {change.record['title']}", as_json)
