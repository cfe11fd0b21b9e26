"""``mailmatch webhooks``: signed HTTP callbacks on matches, and their delivery log."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from mailmatch.cli import render
from mailmatch.cli.common import JsonOpt, _emit, _run, _settings, _workspace, out
from mailmatch.config import Settings

webhooks_app = typer.Typer(no_args_is_help=True, help="Signed HTTP callbacks on matches.")


def _webhooks(settings: Settings) -> Any:
    from mailmatch.accounts.vault import Vault
    from mailmatch.net.guard import Guard
    from mailmatch.webhooks.service import WebhookService

    db, workspace_id = _workspace(settings)
    return WebhookService(
        db,
        Vault.from_settings(settings, db),
        workspace_id=workspace_id,
        guard=Guard.from_settings(settings),
    )


@webhooks_app.command("add")
def webhooks_add(
    url: str,
    secret: Annotated[str, typer.Option(help="Shared secret for the HMAC signature.")],
    events: Annotated[
        list[str] | None, typer.Option("--events", help="message.matched / message.unmatched")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Call URL on matches; deliveries are signed with HMAC-SHA256 and retried."""
    settings = _settings()
    hook = _run(lambda: _webhooks(settings).add(url, secret, events), as_json)
    if as_json:
        _emit(hook)
    else:
        out.print(f"Added webhook {hook['id']} for {', '.join(hook['events'])}.")


@webhooks_app.command("list")
def webhooks_list(as_json: JsonOpt = False) -> None:
    settings = _settings()
    rows = _run(lambda: _webhooks(settings).all(), as_json)
    if as_json:
        _emit(rows)
        return
    table = Table("id", "url", "events", "delivered", "pending", "failed")
    for r in rows:
        table.add_row(
            str(r["id"]),
            r["url"],
            ", ".join(r["events"]),
            str(r["delivered"]),
            str(r["pending"]),
            str(r["failed"]),
        )
    render.print_table(
        out, table, "No webhooks yet. Add one with: mailmatch webhooks add URL --secret SECRET"
    )


@webhooks_app.command("log")
def webhooks_log(
    webhook_id: Annotated[int, typer.Argument(metavar="ID")], as_json: JsonOpt = False
) -> None:
    """The delivery log of one webhook, newest first."""
    settings = _settings()
    # The CLI is the machine owner's: the full answers, internal hosts' included.
    rows = _run(lambda: _webhooks(settings).log(webhook_id, details=True), as_json)
    if as_json:
        _emit(rows)
        return
    if not rows:
        out.print(f"No deliveries yet for webhook {webhook_id}.", highlight=False)
    for r in rows:
        out.print(
            f"#{r['id']} {r['event']} {r['status']} after {r['attempts']} attempt(s) "
            f"{r['last_error'] or ''}",
            highlight=False,
        )


@webhooks_app.command("remove")
def webhooks_remove(
    webhook_id: Annotated[int, typer.Argument(metavar="ID")], as_json: JsonOpt = False
) -> None:
    """Delete a webhook and its delivery log; its pending deliveries are not sent."""
    settings = _settings()
    gone = _run(lambda: _webhooks(settings).remove(webhook_id), as_json)
    if as_json:
        _emit(gone)
    else:
        out.print(
            f"Removed webhook {gone['id']} ({gone['url']}) and "
            f"{gone['deliveries_removed']} logged deliveries.",
            highlight=False,
        )


@webhooks_app.command("deliver")
def webhooks_deliver(as_json: JsonOpt = False) -> None:
    """Send the deliveries that are due now (the worker does this on its own)."""
    settings = _settings()
    report = _run(lambda: _webhooks(settings).deliver_due(), as_json)
    data = {"delivered": report.delivered, "retrying": report.retrying, "failed": report.failed}
    if as_json:
        _emit(data)
    else:
        out.print(
            f"{data['delivered']} delivered, {data['retrying']} to retry, {data['failed']} failed."
        )
