"""``mailmatch rules ignore``: rules that keep mail out of records."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from mailmatch.cli import render
from mailmatch.cli.common import (
    JsonOpt,
    _emit,
    _print_change,
    _raise,
    _run,
    _settings,
    _workspace,
    out,
)
from mailmatch.config import Settings
from mailmatch.errors import InvalidInput

rules_app = typer.Typer(no_args_is_help=True, help="Rules that keep mail out of records.")
ignore_app = typer.Typer(no_args_is_help=True, help="Ignore rules by address, domain, pattern.")
rules_app.add_typer(ignore_app, name="ignore")


def _rules(settings: Settings) -> Any:
    from mailmatch.contacts.rules import RuleService

    db, workspace_id = _workspace(settings)
    return RuleService(db, workspace_id=workspace_id)


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
