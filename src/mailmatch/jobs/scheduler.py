"""The embedded scheduler: run every import whose ``next_run_at`` has come, deliver webhooks.

The schedule is data (``imports.next_run_at``), and each run takes the import's lease, so any
number of schedulers (``mailmatch worker`` processes, the one inside ``mailmatch serve``) can
poll the same database without running an import twice. Imports paused for a refused password
are skipped until the password is replaced: a scheduler never retries a login in a loop.

The scheduler is global: it runs the due imports of every workspace, each in its own workspace
(the runner reads it from the import's row), and delivers every workspace's due webhooks.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from sqlalchemy import select

from mailmatch.errors import MailmatchError
from mailmatch.net.guard import Guard
from mailmatch.store.models import Import
from mailmatch.sync.runner import AlreadyRunning, ImportBlocked, ImportRunner, RunResult
from mailmatch.timeutil import now
from mailmatch.webhooks.service import DeliveryReport, WebhookService

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Skip:
    """An import the tick did not run: its name (for display) and why (an error code)."""

    name: str
    why: str


@dataclass
class Tick:
    ran: list[RunResult] = field(default_factory=list)
    # By import id: two workspaces may each have an import of the same name.
    skipped: dict[int, Skip] = field(default_factory=dict)
    webhooks: DeliveryReport = field(default_factory=DeliveryReport)


def due_imports(runner: ImportRunner) -> list[tuple[int, str]]:
    """(id, name) of every due import, of every workspace, the longest due first."""
    with runner.db.session() as session:
        rows = session.execute(
            select(Import.id, Import.name)
            .where(Import.every_seconds.is_not(None), Import.next_run_at <= now())
            .order_by(Import.next_run_at)
        ).all()
    return [(int(import_id), str(name)) for import_id, name in rows]


def run_due(runner: ImportRunner) -> Tick:
    tick = Tick()
    for import_id, name in due_imports(runner):
        try:
            tick.ran.append(runner.run_import(import_id))
        except (AlreadyRunning, ImportBlocked) as exc:
            tick.skipped[import_id] = Skip(name, exc.code)
        except MailmatchError as exc:
            log.error("import %s: %s", name, exc.message)
            tick.skipped[import_id] = Skip(name, exc.code)
    return tick


def deliver_webhooks(runner: ImportRunner) -> DeliveryReport:
    """Send every workspace's due webhook deliveries, through the settings' address guard."""
    settings = runner.accounts.settings
    service = WebhookService(runner.db, runner.accounts.vault, guard=Guard.from_settings(settings))
    return service.deliver_due(all_workspaces=True)


def tick(runner: ImportRunner) -> Tick:
    """One round of the scheduler: the due imports, then the due webhook deliveries (those
    the imports just queued included)."""
    done = run_due(runner)
    done.webhooks = deliver_webhooks(runner)
    return done


def worker_loop(runner: ImportRunner, interval: float, stop: threading.Event) -> None:
    """Poll until ``stop`` is set; errors in one import never stop the loop."""
    while not stop.is_set():
        try:
            done = tick(runner)
            for result in done.ran:
                log.info("import %s: %s, %d new", result.name, result.state, result.new)
        except Exception:
            log.exception("scheduler tick failed")
        stop.wait(interval)
