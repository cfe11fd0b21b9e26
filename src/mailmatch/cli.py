"""The ``mailmatch`` command line: parse, call a service, render. No logic of its own."""

from __future__ import annotations

import json
import logging
import os
import sys
import textwrap
from collections.abc import Callable, Iterable
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from mailmatch import render
from mailmatch.config import (
    Settings,
    ensure_home,
    home_open_warning,
    load_settings,
    private_file,
)
from mailmatch.errors import ConnectError, MailmatchError
from mailmatch.providers.models import Security

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
providers_app = typer.Typer(no_args_is_help=True, help="What mailmatch knows about providers.")
accounts_app = typer.Typer(no_args_is_help=True, help="Connected mailboxes.")
keys_app = typer.Typer(no_args_is_help=True, help="The key that encrypts stored passwords.")
workspaces_app = typer.Typer(
    no_args_is_help=True, help="Workspaces; MAILMATCH_WORKSPACE picks the one commands use."
)
app.add_typer(providers_app, name="providers")
app.add_typer(accounts_app, name="accounts")
app.add_typer(keys_app, name="keys")
app.add_typer(workspaces_app, name="workspaces")

out = Console(width=render.output_width(sys.stdout))
err = Console(stderr=True, width=render.output_width(sys.stderr))

T = TypeVar("T")
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


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


def _settings() -> Settings:
    settings = load_settings()
    _setup_logging(settings)
    return settings


def _workspace(settings: Settings) -> tuple[Any, int]:
    """The database and the id of the workspace named by ``MAILMATCH_WORKSPACE``.

    Every command that reads or writes data builds its services with this id.
    """
    from mailmatch.store.db import open_database
    from mailmatch.store.workspaces import workspace_id

    db = open_database(settings)
    return db, workspace_id(db, settings.workspace)


def _setup_logging(settings: Settings) -> None:
    """Log to a file in the data home; the console shows only what commands print."""
    root = logging.getLogger()
    if any(isinstance(h, logging.FileHandler) for h in root.handlers):
        return
    ensure_home(settings)
    private_file(settings.log_file)  # FileHandler would make it 0644: it holds server answers
    handler = logging.FileHandler(settings.log_file, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    # Once per process (this setup runs once): every command, ``serve`` and ``worker`` too.
    if warning := home_open_warning(settings):
        logging.getLogger("mailmatch").warning(warning)
        err.print(f"[yellow]warning[/]: {warning}", highlight=False)


def _fail(exc: MailmatchError, as_json: bool) -> NoReturn:
    if as_json:
        payload: dict[str, Any] = {"error": {"code": exc.code, "message": exc.message}}
        payload["error"]["advice"] = exc.advice
        if isinstance(exc, ConnectError):
            payload["error"]["server_text"] = exc.diagnosis.server_text
        print(json.dumps(payload, indent=2))
    else:
        err.print(f"[bold red]error[/]: {exc.message}", highlight=False)
        for line in exc.advice:
            err.print(f"  - {line}", highlight=False)
    raise typer.Exit(1)


def _run(fn: Callable[[], T], as_json: bool = False) -> T:
    try:
        return fn()
    except MailmatchError as exc:
        _fail(exc, as_json)
    except OSError as exc:  # a missing file, a full disk: say so, no traceback
        error = MailmatchError(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
        error.code = "os_error"
        _fail(error, as_json)


def _emit(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def _emit_stream(items: Iterable[Any]) -> None:
    """A JSON array printed item by item, as ``_emit`` would print the whole list (same text),
    so that a long listing starts at once and never sits in memory twice."""
    first = True
    for item in items:
        body = textwrap.indent(json.dumps(item, indent=2, default=str), "  ")
        sys.stdout.write(("[\n" if first else ",\n") + body)
        first = False
    sys.stdout.write("[]\n" if first else "\n]\n")
    sys.stdout.flush()


def _read_password(password_stdin: bool, prompt: str) -> str:
    if password_stdin:
        return sys.stdin.read()
    return str(typer.prompt(prompt, hide_input=True))


# -- providers ------------------------------------------------------------------------------


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


# -- accounts -------------------------------------------------------------------------------


def _service(settings: Settings) -> Any:
    from mailmatch.accounts.service import AccountService
    from mailmatch.accounts.vault import Vault

    db, workspace_id = _workspace(settings)
    return AccountService(
        settings, db, Vault.from_settings(settings, db), workspace_id=workspace_id
    )


@accounts_app.command("add")
def accounts_add(
    address: Annotated[str, typer.Argument(help="The mailbox's email address.")],
    name: Annotated[
        str | None, typer.Option(help="A name for the account (default: the address).")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    username: Annotated[
        str | None, typer.Option(help="Login name, when it is not the address.")
    ] = None,
    imap_host: Annotated[
        str | None,
        typer.Option(
            "--imap-host",
            help="IMAP server name, e.g. imap.example.org (default: discovered for the address).",
        ),
    ] = None,
    imap_port: Annotated[
        int | None,
        typer.Option(
            "--imap-port",
            help="IMAP port (default: the discovered one, else 993 for ssl, 143 otherwise).",
        ),
    ] = None,
    imap_security: Annotated[
        Security | None,
        typer.Option(
            "--imap-security",
            help="ssl: TLS from the first byte; starttls: TLS after connecting; "
            "plain: none (loopback test servers only).",
        ),
    ] = None,
    smtp_host: Annotated[
        str | None,
        typer.Option(
            "--smtp-host",
            help="SMTP server name, e.g. smtp.example.org (default: discovered for the address).",
        ),
    ] = None,
    smtp_port: Annotated[
        int | None,
        typer.Option(
            "--smtp-port",
            help="SMTP port (default: the discovered one, else 465 for ssl, 587 otherwise).",
        ),
    ] = None,
    smtp_security: Annotated[
        Security | None,
        typer.Option(
            "--smtp-security",
            help="ssl: TLS from the first byte (465); starttls: TLS after connecting (587); "
            "plain: none.",
        ),
    ] = None,
    ca_file: Annotated[
        str | None,
        typer.Option("--ca-file", help="CA or certificate file for a self-signed server."),
    ] = None,
    cert_fingerprint: Annotated[
        str | None, typer.Option("--cert-fingerprint", help="Pin the server certificate's SHA-256.")
    ] = None,
    no_test: Annotated[
        bool, typer.Option("--no-test", help="Save without testing the connection.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Connect a mailbox: discover its servers, check the app password, test, save."""
    from mailmatch.accounts.service import NewAccount, ServerOverride

    settings = _settings()
    service = _run(lambda: _service(settings), as_json)
    request = NewAccount(
        address=address,
        name=name,
        username=username,
        imap=ServerOverride(imap_host, imap_port, imap_security),
        smtp=ServerOverride(smtp_host, smtp_port, smtp_security),
        ca_file=ca_file,
        cert_fingerprint=cert_fingerprint,
    )
    if not as_json and not password_stdin:
        found = _run(lambda: service.resolve(request))
        render.print_discovery(out, found, brief=True)
    password = _read_password(password_stdin, f"App password for {address}")
    result = _run(lambda: service.add(request, password, test=not no_test), as_json)
    if as_json:
        _emit(render.add_result_json(result))
    else:
        render.print_add_result(out, result)
    if not result.saved:
        raise typer.Exit(1)


@accounts_app.command("test")
def accounts_test(name: str, as_json: JsonOpt = False) -> None:
    """Log in to IMAP and SMTP without changing anything. Exit 0 when both work."""
    settings = _settings()
    result = _run(lambda: _service(settings).test(name), as_json)
    if as_json:
        _emit(result.to_json())
    else:
        render.print_test(out, result)
    raise typer.Exit(0 if result.ok else 1)


@accounts_app.command("list")
def accounts_list(as_json: JsonOpt = False) -> None:
    """Connected accounts (passwords are never shown)."""
    settings = _settings()
    views = _run(lambda: _service(settings).list(), as_json)
    if as_json:
        _emit([v.to_json() for v in views])
        return
    render.print_accounts(out, views)


@accounts_app.command("show")
def accounts_show(name: str, as_json: JsonOpt = False) -> None:
    """One account's settings and last test."""
    settings = _settings()
    view = _run(lambda: _service(settings).get(name), as_json)
    if as_json:
        _emit(view.to_json())
    else:
        render.print_account(out, view)


@accounts_app.command("set-password")
def accounts_set_password(
    name: str,
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Replace the stored password: paste the new one, Save."""
    settings = _settings()
    service = _run(lambda: _service(settings), as_json)
    _run(lambda: service.get(name), as_json)
    password = _read_password(password_stdin, f"New app password for {name}")
    check = _run(lambda: service.set_password(name, password), as_json)
    if as_json:
        _emit({"name": name, "saved": True, "warnings": check.warnings})
        return
    for warning in check.warnings:
        err.print(f"[yellow]warning[/]: {warning}", highlight=False)
    out.print(f"Saved the new password for {name}. Check it with: mailmatch accounts test {name}")


@accounts_app.command("remove")
def accounts_remove(name: str, as_json: JsonOpt = False) -> None:
    """Forget an account and its password (nothing on the server changes)."""
    settings = _settings()
    _run(lambda: _service(settings).remove(name), as_json)
    if as_json:
        _emit({"name": name, "removed": True})
    else:
        out.print(f"Removed {name}.")


# -- keys -----------------------------------------------------------------------------------


@keys_app.command("rotate")
def keys_rotate(as_json: JsonOpt = False) -> None:
    """Encrypt every stored password and webhook secret with a new key, then drop the old key.

    If anything fails, the key file is left as it was and every secret still opens."""
    settings = _settings()
    count = _run(lambda: _service(settings).rotate_keys(), as_json)
    if as_json:
        _emit({"reencrypted": count})
    elif settings.secret_keys:
        out.print(
            f"Re-encrypted {count} secret(s) (passwords, webhook secrets) with the first key "
            "of MAILMATCH_SECRET_KEYS; the others can now be removed from it."
        )
    else:
        out.print(
            f"Re-encrypted {count} secret(s) (passwords, webhook secrets) with a new key in "
            f"{settings.key_file}. Back up that file: without it they cannot be read."
        )


# -- workspaces -----------------------------------------------------------------------------


@workspaces_app.command("list")
def workspaces_list(as_json: JsonOpt = False) -> None:
    """Every workspace; the one MAILMATCH_WORKSPACE names is marked."""
    from mailmatch.store.db import open_database
    from mailmatch.store.workspaces import list_workspaces

    settings = _settings()
    views = _run(lambda: list_workspaces(open_database(settings)), as_json)
    if as_json:
        _emit([{**v.to_json(), "current": v.name == settings.workspace} for v in views])
        return
    for view in views:
        mark = "*" if view.name == settings.workspace else " "
        out.print(f"{mark} {view.name}", highlight=False)


@workspaces_app.command("create")
def workspaces_create(name: str, as_json: JsonOpt = False) -> None:
    """A new, empty workspace (use it with MAILMATCH_WORKSPACE=NAME)."""
    from mailmatch.store.db import open_database
    from mailmatch.store.workspaces import create_workspace

    settings = _settings()
    new_id = _run(lambda: create_workspace(open_database(settings), name), as_json)
    if as_json:
        _emit({"id": new_id, "name": name.strip()})
    else:
        out.print(f"Created workspace {name.strip()}. Use it with: MAILMATCH_WORKSPACE={name}")


_OWN_PROCESS = False  # set by main(): the command line is the whole process


def exit_fast(code: int) -> NoReturn:
    """End the process without tearing down the interpreter's heap.

    After a large import the heap holds ~100 MB of objects; freeing them one by one at exit
    takes 0.1-0.2 s and changes nothing, the OS takes the memory back anyway. The caller has
    closed its database first; logs and the output streams are flushed here. Inside another
    program (a test's ``CliRunner``), this is an ordinary ``typer.Exit``.
    """
    if not _OWN_PROCESS:
        raise typer.Exit(code)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main() -> None:
    global _OWN_PROCESS
    _OWN_PROCESS = True
    app()


# The mail and record commands register themselves on ``app`` when imported.
from mailmatch import cli_mail, cli_records, cli_web  # noqa: E402, F401

# isort: split
from mailmatch import cli_record_edits  # noqa: E402, F401  (records' edit and remove)

# isort: split
from mailmatch import cli_jobs  # noqa: E402, F401  (jobs list, failed, retry, drop)
