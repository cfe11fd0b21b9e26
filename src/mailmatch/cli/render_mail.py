"""Terminal rendering for imports and messages."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from mailmatch.cli.render import print_table

if TYPE_CHECKING:
    from mailmatch.imports.service import ImportView
    from mailmatch.sync.runner import RunResult

STATE_STYLE = {"ok": "green", "running": "cyan", "interrupted": "yellow", "rate_limited": "yellow"}
NO_IMPORTS = "No imports yet. Create one with: mailmatch imports create NAME --account ADDRESS"


def _state(state: str) -> str:
    return f"[{STATE_STYLE.get(state, 'red')}]{state}[/]"


def _health(view: ImportView) -> str:
    """The state as the user should read it: an import that never ran is not "ok" yet."""
    return "[yellow]never run[/]" if view.never_run else _state(view.state)


def _next_run(view: ImportView) -> str:
    """When the import runs next, in words when there is no date to give."""
    if view.every_seconds is None:
        return "manual only"
    if view.next_run_at is None:
        return "not scheduled"
    return f"{view.next_run_at:%Y-%m-%d %H:%M:%S %Z}".rstrip()


class RateColumn(ProgressColumn):
    """Messages per second: the figure that tells a slow server from a stuck import."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        if speed is None and task.elapsed:
            speed = task.completed / task.elapsed
        if speed is None:
            return Text("- msg/s", style="progress.data.speed")
        return Text(f"{speed:,.0f} msg/s", style="progress.data.speed")


def import_progress(console: Console) -> Progress:
    """The bar of ``imports run``: done of total, rate, time so far and left (ETA).

    Not transient: when the run ends, each folder's last line stays on screen as its record.
    """
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(elapsed_when_finished=True),
        console=console,
        transient=False,
    )


def print_run(console: Console, result: RunResult) -> None:
    data = result.to_json()
    for folder in data["folders"]:
        console.print(
            f"  {folder['name']}: {folder['new']} new, {folder['skipped_duplicates']} already "
            f"stored, {folder['defective']} defective ({folder['strategy']})",
            highlight=False,
        )
    for error in data["errors"]:
        console.print(
            f"  [red]{error.get('code')}[/]: {error.get('message') or ''}", highlight=False
        )
        if error.get("server_text"):
            console.print(f"    server said: {error['server_text']}", highlight=False, markup=False)
        for line in error.get("advice") or []:
            console.print(f"    → {line}", highlight=False, markup=False)
    console.print(
        f"{data['import']}: {_state(data['state'])}, {data['new']} new in {data['seconds']:.1f}s",
        highlight=False,
    )


def print_imports(console: Console, views: list[ImportView]) -> None:
    table = Table("name", "account", "state", "every", "last run", "next run", "alerts")
    for v in views:
        data = v.to_json()
        table.add_row(
            v.name,
            v.account,
            _health(v),
            data["every"] or "manual",
            (data["last_run_at"] or "never")[:19],
            _next_run(v),
            str(len(v.alerts)),
        )
    print_table(console, table, NO_IMPORTS)


def print_import(console: Console, view: ImportView) -> None:
    data = view.to_json()
    console.print(f"[bold]{escape(view.name)}[/] (account {escape(view.account)}): {_health(view)}")
    default = " (the default: INBOX and the Sent folder)" if not view.folders else ""
    console.print(
        f"  folders: {', '.join(view.folders_used)}{default}", highlight=False, markup=False
    )
    if view.every_seconds is None:
        console.print("  schedule: manual only")
    else:
        console.print(f"  schedule: every {data['every']}; next {_next_run(view)}")
    if view.never_run:
        console.print(
            f"  last run: never (start it with: mailmatch imports run {escape(view.name)})"
        )
    if view.last_stats:
        s = view.last_stats
        console.print(
            f"  last run: {s.get('new')} new, {s.get('skipped_duplicates')} already stored, "
            f"{s.get('defective')} defective, {s.get('seconds')}s"
        )
    if view.last_error:
        e = view.last_error
        console.print(f"  last error [red]{e.get('code')}[/]: {escape(e.get('message') or '')}")
        if e.get("server_text"):
            console.print(f"    server said: {e['server_text']}", highlight=False, markup=False)
        for line in e.get("advice") or []:
            console.print(f"    → {line}", highlight=False, markup=False)
    for alert in view.alerts:
        console.print(
            f"  [bold red]alert[/] {alert['created_at'][:19]}: {escape(alert['message'])}"
        )
    for fs in view.folder_states:
        console.print(
            f"  {fs['folder']}: UIDVALIDITY {fs['uidvalidity']}, stored up to UID "
            f"{fs['last_uid']}, {fs['exists']} on server",
            highlight=False,
        )


def print_message(console: Console, data: dict[str, Any]) -> None:
    console.print(f"[bold]{escape(data['subject'] or '(no subject)')}[/]", highlight=False)
    for role, people in data["addresses"].items():
        names = ", ".join(
            f"{p['name']} <{p['email']}>" if p["name"] else p["email"] for p in people
        )
        console.print(f"  {role}: {names}", highlight=False, markup=False)
    console.print(
        f"  date: {data['date']}   id: {data['message_id']}", highlight=False, markup=False
    )
    for loc in data["locations"]:
        console.print(
            f"  in {loc['account']} / {loc['folder']} (UID {loc['uid']})", highlight=False
        )
    if data["defects"]:
        console.print(f"  defects: {', '.join(data['defects'])}", highlight=False, markup=False)
    for att in data["attachments"]:
        console.print(
            f"  attachment: {att['filename']} ({att['content_type']}, {att['size']} bytes)"
        )
    console.print("")
    console.print(data["body_text"][:5000], highlight=False, markup=False)
