"""``mailmatch matches``: what mail matched, and what did not."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from mailmatch.cli import render
from mailmatch.cli.common import JsonOpt, _emit, _run, _settings, _workspace, out
from mailmatch.config import Settings

matches_app = typer.Typer(no_args_is_help=True, help="What mail matched, and what did not.")


def _matches(settings: Settings) -> Any:
    from mailmatch.matching.service import MatchService

    db, workspace_id = _workspace(settings)
    return MatchService(db, workspace_id=workspace_id)


@matches_app.command("stats")
def matches_stats(as_json: JsonOpt = False) -> None:
    """Matched, unmatched and ignored messages: the last 30 days (top level) and in all."""
    settings = _settings()
    service = _run(lambda: _matches(settings), as_json)
    recent, total = service.stats(days=30).to_json(), service.stats().to_json()
    if as_json:
        _emit({**recent, "last_30_days": recent, "all": total})
        return
    table = Table("", "matched", "unmatched", "ignored")
    table.add_row("last 30 days", *(str(recent[k]) for k in ("matched", "unmatched", "ignored")))
    table.add_row("all", *(str(total[k]) for k in ("matched", "unmatched", "ignored")))
    render.print_table(out, table, "No messages yet.")


@matches_app.command("unmatched")
def matches_unmatched(
    limit: Annotated[int, typer.Option(help="At most this many senders.")] = 100,
    as_json: JsonOpt = False,
) -> None:
    """Senders with mail but no record: create a contact or an ignore rule for each."""
    settings = _settings()
    rows = _run(lambda: _matches(settings).unmatched(limit), as_json)
    if as_json:
        _emit(rows)
        return
    table = Table("sender", "name", "messages", "last")
    for r in rows:
        table.add_row(r["sender"] or "", r["name"], str(r["messages"]), (r["last_date"] or "")[:10])
    if not rows:
        out.print("No unmatched senders: every stored message is matched or ignored.")
        return
    out.print(table)
    out.print(
        "Create a contact: mailmatch contacts add EMAIL --name N   "
        "Ignore: mailmatch rules ignore add --address EMAIL"
    )


@matches_app.command("run")
def matches_run(as_json: JsonOpt = False) -> None:
    """Match every stored message again (normally not needed: changes re-match by themselves)."""
    settings = _settings()
    count = _run(lambda: _matches(settings).match_all(), as_json)
    if as_json:
        _emit({"matched_messages": count})
    else:
        out.print(f"Matched {count} messages.")
