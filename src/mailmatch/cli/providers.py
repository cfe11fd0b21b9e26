"""``mailmatch providers``: the built-in catalog and what is found for an address."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from mailmatch.cli import render
from mailmatch.cli.common import JsonOpt, _emit, _run, _settings, out

providers_app = typer.Typer(no_args_is_help=True, help="What mailmatch knows about providers.")


@providers_app.command("list")
def providers_list(as_json: JsonOpt = False) -> None:
    """Every provider in the built-in catalog."""
    from mailmatch.providers.catalog import load_catalog

    catalog = load_catalog()
    if as_json:
        _emit([render.provider_summary(p) for p in catalog])
        return
    table = Table("id", "name", "IMAP", "SMTP", "app password")
    for p in catalog:
        table.add_row(
            p.id,
            p.name,
            f"{p.imap[0].host}:{p.imap[0].port}",
            f"{p.smtp[0].host}:{p.smtp[0].port}",
            str(p.app_password.policy),
        )
    render.print_table(out, table, "The provider catalog is empty.")


@providers_app.command("show")
def providers_show(
    address: Annotated[str, typer.Argument(help="An email address or a domain.")],
    as_json: JsonOpt = False,
    no_probe: Annotated[
        bool, typer.Option("--no-probe", help="Do not guess host names by connecting.")
    ] = False,
) -> None:
    """The settings for an address, where they came from, and how to get an app password."""
    from mailmatch.providers.discovery import discover

    settings = _settings()
    target = address if "@" in address else f"you@{address}"
    found = _run(lambda: discover(target, settings, probe_guesses=not no_probe), as_json)
    if as_json:
        _emit(found.to_json())
    else:
        render.print_discovery(out, found)
