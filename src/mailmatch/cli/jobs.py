"""Commands for background jobs: their runs, and the dead list (retry or drop).

A run that failed all its attempts waits in the dead list (Mailman's shunt queue) until a
person retries it (``jobs retry ID``: queued again with all its attempts, run at once unless
``--later``) or drops it. Added to the main ``app`` by :mod:`mailmatch.cli`; thin: parse,
call :mod:`mailmatch.jobs`, print.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from mailmatch.cli.common import JsonOpt, _emit, _run, _settings, _workspace, out

jobs_app = typer.Typer(no_args_is_help=True, help="Background jobs: runs, the dead list.")

DEAD_STATES = ("dead",)


def _table(runs: list[Any], title: str) -> Table:
    table = Table(title=title)
    for column in ("id", "kind", "key", "state", "attempts", "created", "error"):
        table.add_column(column)
    for run in runs:
        error = (run.error or {}).get("message") or ""
        table.add_row(
            str(run.id),
            run.kind,
            run.key,
            run.state,
            f"{run.attempts}/{run.max_attempts}",
            run.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            error[:80],
        )
    return table


def _list(states: tuple[str, ...] | None, kind: str | None, limit: int, as_json: bool) -> None:
    from mailmatch.jobs import table as runs_table

    settings = _settings()
    db, workspace_id = _run(lambda: _workspace(settings), as_json)
    runs = _run(
        lambda: runs_table.runs(
            db, states=states, kind=kind, workspace_id=workspace_id, limit=limit
        ),
        as_json,
    )
    if as_json:
        _emit([r.to_json() for r in runs])
        return
    if not runs:
        out.print("No job runs." if states != DEAD_STATES else "The dead list is empty.")
        return
    out.print(_table(runs, "Dead job runs" if states == DEAD_STATES else "Job runs"))


@jobs_app.command("list")
def jobs_list(
    state: Annotated[
        str | None, typer.Option(help="Only runs in this state (queued, running, done, ...).")
    ] = None,
    kind: Annotated[
        str | None, typer.Option(help="Only runs of this kind, e.g. import.run.")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 50,
    as_json: JsonOpt = False,
) -> None:
    """The newest job runs, with their state and attempts."""
    _list((state,) if state else None, kind, limit, as_json)


@jobs_app.command("failed")
def jobs_failed(
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 100,
    as_json: JsonOpt = False,
) -> None:
    """The dead list: runs that failed all their attempts, to retry or drop."""
    _list(DEAD_STATES, None, limit, as_json)


@jobs_app.command("retry")
def jobs_retry(
    run_id: Annotated[int, typer.Argument(help="The run's id (see: mailmatch jobs failed).")],
    later: Annotated[
        bool, typer.Option("--later", help="Only queue it again; a worker or serve runs it.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Queue a dead run again with all its attempts, and run it now (unless --later)."""
    from mailmatch.jobs import table as runs_table
    from mailmatch.jobs.builtin import builtin_registry
    from mailmatch.jobs.runners import InlineRunner

    settings = _settings()
    db, _workspace_id = _run(lambda: _workspace(settings), as_json)
    run = _run(lambda: runs_table.retry(db, run_id), as_json)
    if not later:
        runner = InlineRunner(db, settings, builtin_registry())
        _run(lambda: runner.run(run_id), as_json)
        run = runs_table.get(db, run_id)
    if as_json:
        _emit(run.to_json())
        return
    error = (run.error or {}).get("message") if run.state != "done" else None
    out.print(
        f"Run {run.id} ({run.kind} {run.key}): {run.state}" + (f": {error}" if error else ""),
        markup=False,
        soft_wrap=True,
    )
    if run.state == "dead":
        raise typer.Exit(1)


@jobs_app.command("drop")
def jobs_drop(
    run_id: Annotated[int, typer.Argument(help="The run's id (see: mailmatch jobs failed).")],
    as_json: JsonOpt = False,
) -> None:
    """Remove a dead run from the list for good."""
    from mailmatch.jobs import table as runs_table

    settings = _settings()
    db, _workspace_id = _run(lambda: _workspace(settings), as_json)
    run = _run(lambda: runs_table.drop(db, run_id), as_json)
    if as_json:
        _emit(run.to_json())
        return
    out.print(f"Dropped run {run.id} ({run.kind} {run.key}).", markup=False, soft_wrap=True)
