"""Commands for stored messages: ``messages`` and the top-level ``export``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from mailmatch.cli import render
from mailmatch.cli.common import JsonOpt, _emit, _run, _settings, _store, out

messages_app = typer.Typer(no_args_is_help=True, help="Stored messages.")


def _listing(settings: Any) -> Any:
    from mailmatch.sorting.listing import MessageList

    store = _store(settings)
    return MessageList(store.db, store.workspace_id)


@messages_app.command("list")
def messages_list(
    category: Annotated[
        str | None, typer.Option(help="Only this category (or review, uncategorized).")
    ] = None,
    folder: Annotated[str | None, typer.Option(help="Only mail from this server folder.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 50,
    all_: Annotated[bool, typer.Option("--all", help="Every message (no limit).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Stored messages with their folders and category."""
    settings = _settings()
    rows = _run(
        lambda: _listing(settings).list(
            category=category, folder=folder, limit=None if all_ else limit
        ),
        as_json,
    )
    if as_json:
        _emit(rows)
        return
    table = Table("id", "date", "from", "subject", "category")
    for r in rows:
        table.add_row(
            str(r["id"]), (r["date"] or "")[:10], r["from"] or "", r["subject"], r["category"]
        )
    render.print_table(out, table, "No stored message is in that list.")


@messages_app.command("search")
def messages_search(
    query: str,
    limit: Annotated[int, typer.Option(help="At most this many results.")] = 50,
    category: Annotated[
        str | None, typer.Option(help="Only this category (or review, uncategorized).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Full-text search over subjects, addresses, bodies and attachment names."""
    from mailmatch.imports.messages import MessageService

    settings = _settings()
    if category:
        store = _store(settings)
        ids = _run(lambda: store.search(query, 10_000), as_json)
        hits = _run(lambda: _listing(settings).list(category=category, ids=ids, limit=limit))
    else:
        hits = _run(lambda: MessageService(_store(settings)).search(query, limit), as_json)
    if as_json:
        _emit(hits)
        return
    table = Table("id", "date", "from", "subject")
    for hit in hits:
        table.add_row(str(hit["id"]), (hit["date"] or "")[:10], hit["from"] or "", hit["subject"])
    render.print_table(out, table, f"No stored message matches {query!r}.")


@messages_app.command("show")
def messages_show(
    message_id: Annotated[int, typer.Argument(metavar="ID")], as_json: JsonOpt = False
) -> None:
    """One message: headers, addresses, where it is, its thread and its text."""
    from mailmatch.imports.messages import MessageService

    settings = _settings()
    data = _run(lambda: MessageService(_store(settings)).show(message_id), as_json)
    if as_json:
        _emit(data)
        return
    from mailmatch.cli.render_mail import print_message

    print_message(out, data)


@messages_app.command("raw")
def messages_raw(message_id: Annotated[int, typer.Argument(metavar="ID")]) -> None:
    """The message's bytes exactly as the server sent them."""
    from mailmatch.imports.messages import MessageService

    settings = _settings()
    raw = _run(lambda: MessageService(_store(settings)).raw(message_id))
    sys.stdout.buffer.write(raw)
    sys.stdout.buffer.flush()


def export_cmd(
    kind: Annotated[str, typer.Argument(metavar="maildir|mbox")],
    dest: Annotated[Path, typer.Argument(metavar="DEST")],
    as_json: JsonOpt = False,
) -> None:
    """Write every stored message, byte for byte, to a Maildir or an mbox file.

    A Maildir keeps the folders (Maildir++: INBOX at the root, .Sent, .Archive.2024). Exporting
    again to the same place adds only the messages not there yet; an existing mbox file is added
    to only when mailmatch wrote it.
    """
    from mailmatch.imports.export import export_messages

    settings = _settings()
    result = _run(lambda: export_messages(_store(settings), kind, dest), as_json)
    if as_json:
        print(json.dumps(result.to_json()))
        return
    out.print(
        f"Exported {result.written} messages to {dest} ({kind}); "
        f"{result.skipped} were there already from an earlier export.",
        markup=False,
        soft_wrap=True,
    )
    for figures in result.folders:
        out.print(
            f"  {figures.folder} ({figures.path}): {figures.written} written, "
            f"{figures.skipped} already there",
            markup=False,
            soft_wrap=True,
        )
