"""The ``mailmatch`` command line: parse, call a service, render. No logic of its own.

This module assembles the app: each command module defines its group (or top-level commands)
and imports only :mod:`mailmatch.cli.common`; the groups and commands are added here, in the
order ``mailmatch --help`` lists them. ``main`` is the console script's entry point.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer

from mailmatch.cli import (
    accounts,
    common,
    imports,
    jobs,
    keys,
    matches,
    messages,
    pipeline,
    providers,
    record_edits,
    records,
    rules,
    sort,
    web,
    webhooks,
    workspaces,
)

HELP = (
    "Connect your mailboxes with app passwords, import their mail and match it to your "
    "contacts, companies and deals. Everything stays on this machine, in MAILMATCH_HOME."
    "\n\n"
    "Start with: mailmatch accounts add you@example.com, then mailmatch imports create "
    "NAME --account you@example.com and mailmatch imports run NAME. Every command takes "
    "--json for scripts; mailmatch serve opens the web app."
)

# Tracebacks must never print local variables: one of them may be a password.
app = typer.Typer(
    no_args_is_help=True, help=HELP, add_completion=False, pretty_exceptions_show_locals=False
)


def package_version() -> str:
    """The installed distribution's version: the one number bug reports need."""
    try:
        return version("mailmatch")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def _print_version(value: bool) -> None:
    if value:
        print(f"mailmatch {package_version()}")
        raise typer.Exit()


@app.callback()
def _main_options(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the installed version and exit.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """Options that come before the command."""


app.command("import-file")(imports.import_file_cmd)
app.command("export")(messages.export_cmd)
app.command("worker")(imports.worker_cmd)
app.command("serve")(web.serve_cmd)

app.add_typer(providers.providers_app, name="providers")
app.add_typer(accounts.accounts_app, name="accounts")
app.add_typer(keys.keys_app, name="keys")
app.add_typer(workspaces.workspaces_app, name="workspaces")
app.add_typer(imports.imports_app, name="imports")
app.add_typer(messages.messages_app, name="messages")
app.add_typer(records.contacts_app, name="contacts")
app.add_typer(records.companies_app, name="companies")
app.add_typer(records.deals_app, name="deals")
app.add_typer(rules.rules_app, name="rules")
app.add_typer(matches.matches_app, name="matches")
app.add_typer(webhooks.webhooks_app, name="webhooks")
app.add_typer(web.users_app, name="users")
app.add_typer(pipeline.pipeline_app, name="pipeline")
app.add_typer(jobs.jobs_app, name="jobs")
app.add_typer(sort.sort_app, name="sort")

# Records' edit and remove, listed after each group's own commands.
records.contacts_app.command("edit")(record_edits.contacts_edit)
records.contacts_app.command("remove")(record_edits.contacts_remove)
records.companies_app.command("edit")(record_edits.companies_edit)
records.companies_app.command("remove")(record_edits.companies_remove)
records.deals_app.command("edit")(record_edits.deals_edit)
records.deals_app.command("remove")(record_edits.deals_remove)


def main() -> None:
    common.own_process()
    app()
