"""``mailmatch workspaces``: list and create workspaces."""

from __future__ import annotations

import typer

from mailmatch.cli.common import JsonOpt, _emit, _run, _settings, out

workspaces_app = typer.Typer(
    no_args_is_help=True, help="Workspaces; MAILMATCH_WORKSPACE picks the one commands use."
)


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
