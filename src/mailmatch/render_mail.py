"""Terminal rendering for imports and messages."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from mailmatch.imports.service import ImportView
    from mailmatch.sync.runner import RunResult

STATE_STYLE = {"ok": "green", "running": "cyan"}


def _state(state: str) -> str:
    return f"[{STATE_STYLE.get(state, 'red')}]{state}[/]"


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
    if not views:
        console.print("No imports yet. Create one: mailmatch imports create NAME --account A")
        return
    table = Table("name", "account", "state", "every", "last run", "next run", "alerts")
    for v in views:
        data = v.to_json()
        table.add_row(
            v.name,
            v.account,
            _state(v.state),
            data["every"] or "manual",
            (data["last_run_at"] or "never")[:19],
            (data["next_run_at"] or "-")[:19],
            str(len(v.alerts)),
        )
    console.print(table)


def print_import(console: Console, view: ImportView) -> None:
    data = view.to_json()
    console.print(
        f"[bold]{escape(view.name)}[/] (account {escape(view.account)}): {_state(view.state)}"
    )
    console.print(
        f"  folders: {', '.join(view.folders or ['INBOX', 'Sent'])}", highlight=False, markup=False
    )
    console.print(f"  schedule: {data['every'] or 'manual only'}; next {data['next_run_at']}")
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
