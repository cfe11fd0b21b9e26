"""``mailmatch pipeline``: the after-store steps, what each still owes, and a catch-up.

Added to the main ``app`` by :mod:`mailmatch.cli`; thin: parse, call the pipeline, render.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from mailmatch.cli.common import JsonOpt, _emit, _run, _settings, _workspace, out

pipeline_app = typer.Typer(
    no_args_is_help=True, help="The steps that run on every stored batch (matching, webhooks)."
)


def _pipeline() -> Any:
    from mailmatch.pipeline.runner import Pipeline

    db, workspace_id = _workspace(_settings())
    return Pipeline(db, workspace_id)


@pipeline_app.command("status")
def pipeline_status(as_json: JsonOpt = False) -> None:
    """The steps in the order they run, how many stored messages each has not handled yet,
    and the last error of a failing one."""
    steps = _run(lambda: _pipeline().status(), as_json)
    if as_json:
        _emit([s.to_json() for s in steps])
        return
    table = Table("step", "pending", "failing batches", "description", "last error")
    for s in steps:
        table.add_row(
            s.name, str(s.pending), str(s.failing_batches), s.description, s.last_error or ""
        )
    out.print(table)


@pipeline_app.command("catch-up")
def pipeline_catch_up(as_json: JsonOpt = False) -> None:
    """Run the steps on what they still owe (a failing step, a run killed after storing).

    The exit code is 1 when a step failed again.
    """
    report = _run(lambda: _pipeline().catch_up(), as_json)
    if as_json:
        _emit(report.to_json())
    else:
        out.print(f"{report.messages} messages in {report.batches} batches caught up.")
        for failure in report.failed:
            out.print(f"  {failure.step} failed: {failure.error}", markup=False, soft_wrap=True)
    if report.failed:
        raise typer.Exit(1)
