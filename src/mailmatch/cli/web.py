"""``mailmatch serve`` and ``mailmatch users``: the web app and the people who sign in to it."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer
from rich.table import Table

from mailmatch.cli import render
from mailmatch.cli.common import JsonOpt, _emit, _run, _settings, err, out
from mailmatch.config import Settings

users_app = typer.Typer(no_args_is_help=True, help="People who sign in to the web app and API.")


def _users(settings: Settings) -> Any:
    from mailmatch.store.db import open_database
    from mailmatch.users.service import UserService

    return UserService(open_database(settings))


def _new_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.read().rstrip("\r\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@users_app.command("create")
def users_create(
    email: str,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    workspace: Annotated[
        str | None,
        typer.Option(
            help="Workspace to join (made if missing). Default: the first user joins "
            "'default', where the CLI works; later users get one of their own."
        ),
    ] = None,
    admin: Annotated[bool | None, typer.Option("--admin/--no-admin")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a user who can sign in to `mailmatch serve`."""
    settings = _settings()
    password = _new_password(password_stdin)
    user = _run(
        lambda: _users(settings).create(email, password, workspace=workspace, admin=admin), as_json
    )
    if as_json:
        _emit(user.to_json())
    else:
        out.print(f"Created {user.email} in workspace {user.workspace!r}.")


@users_app.command("list")
def users_list(as_json: JsonOpt = False) -> None:
    """Every user and their workspace."""
    settings = _settings()
    users = _run(lambda: _users(settings).list(), as_json)
    if as_json:
        _emit([u.to_json() for u in users])
        return
    table = Table("email", "workspace", "admin")
    for u in users:
        table.add_row(u.email, u.workspace, "yes" if u.is_admin else "")
    render.print_table(
        out, table, "No users yet. Create one with: mailmatch users create EMAIL --admin"
    )


@users_app.command("token")
def users_token(
    email: str,
    name: Annotated[str, typer.Option(help="A label to tell tokens apart.")] = "cli",
    as_json: JsonOpt = False,
) -> None:
    """Print a new API token for EMAIL (send it as 'Authorization: Bearer TOKEN')."""
    settings = _settings()
    token = _run(lambda: _users(settings).create_token(email, name), as_json)
    if as_json:
        _emit({"email": email, "name": name, "token": token})
    else:
        print(token)


@users_app.command("set-password")
def users_set_password(
    email: str,
    password_stdin: Annotated[bool, typer.Option("--password-stdin")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Replace a user's password (ends their browser sessions)."""
    settings = _settings()
    password = _new_password(password_stdin)
    _run(lambda: _users(settings).set_password(email, password), as_json)
    if as_json:
        _emit({"email": email, "password_changed": True})
    else:
        out.print(f"Changed the password of {email}.")


@users_app.command("remove")
def users_remove(email: str, as_json: JsonOpt = False) -> None:
    """Delete a user, their sessions and tokens (their workspace's data stays)."""
    settings = _settings()
    _run(lambda: _users(settings).remove(email), as_json)
    if as_json:
        _emit({"email": email, "removed": True})
    else:
        out.print(f"Removed {email}.")


def serve_cmd(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8025,
    scheduler: Annotated[
        bool, typer.Option("--scheduler/--no-scheduler", help="Run due imports in this process.")
    ] = True,
    interval: Annotated[float, typer.Option(help="Seconds between schedule checks.")] = 30,
    secure_cookies: Annotated[
        bool, typer.Option("--secure-cookies", help="Mark cookies Secure (behind HTTPS).")
    ] = False,
    trusted_proxy: Annotated[
        list[str] | None,
        typer.Option(
            "--trusted-proxy",
            metavar="IP/CIDR",
            help="A reverse proxy whose X-Forwarded-For names the client (repeat for more; "
            "adds to MAILMATCH_TRUSTED_PROXIES). Default: none, the header is ignored.",
        ),
    ] = None,
) -> None:
    """The web dashboard and REST API, with the import scheduler inside."""
    import uvicorn

    from mailmatch.config import parse_trusted_proxies
    from mailmatch.web.app import create_app

    settings = _settings()
    proxies = _run(
        lambda: tuple(
            dict.fromkeys(settings.trusted_proxies + parse_trusted_proxies(trusted_proxy or []))
        )
    )
    web = _run(
        lambda: create_app(
            settings, scheduler=scheduler, scheduler_interval=interval,
            secure_cookies=secure_cookies, trusted_proxies=proxies,
        )
    )  # fmt: skip
    err.print(f"mailmatch on http://{host}:{port}  (data in {settings.home})", highlight=False)
    if proxies:
        err.print(f"trusting X-Forwarded-For from {', '.join(proxies)}", highlight=False)
    # proxy_headers=False: uvicorn's own handling would trust 127.0.0.1; the app does it.
    uvicorn.run(web, host=host, port=port, log_level="warning", proxy_headers=False)
