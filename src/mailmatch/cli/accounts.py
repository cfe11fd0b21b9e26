"""``mailmatch accounts``: connect, test, list, change and remove mailboxes."""

from __future__ import annotations

from typing import Annotated

import typer

from mailmatch.cli import render
from mailmatch.cli.common import (
    JsonOpt,
    _emit,
    _read_password,
    _run,
    _service,
    _settings,
    err,
    out,
)
from mailmatch.providers.models import Security

accounts_app = typer.Typer(no_args_is_help=True, help="Connected mailboxes.")


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
