"""The embedded scheduler: submit every import whose ``next_run_at`` has come, and the webhook
deliveries, as jobs.

The schedule is data (``imports.next_run_at``), and each run holds its key's lease
(``import:<id>``), so any number of schedulers (``mailmatch worker`` processes, the one inside
``mailmatch serve``) can poll the same database without running an import twice. Imports paused
for a refused password are skipped until the password is replaced: a scheduler never retries a
login in a loop.

The scheduler is global: it runs the due imports of every workspace, each in its own workspace
(the runner reads it from the import's row), and delivers every workspace's due webhooks. It
only submits: the job runner (inline by default, or the setting's, see
:mod:`mailmatch.jobs.runners`) runs them. With the inline runner the tick reports what ran.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from sqlalchemy import select

from mailmatch.errors import MailmatchError
from mailmatch.jobs.builtin import builtin_registry
from mailmatch.jobs.model import DONE, RunId
from mailmatch.jobs.registry import Registry
from mailmatch.jobs.runners import InlineRunner, Runner
from mailmatch.net.guard import Guard
from mailmatch.store.models import Import
from mailmatch.sync.jobs import IMPORT_RUN, import_handler, import_job
from mailmatch.sync.runner import ImportRunner, RunResult
from mailmatch.timeutil import now
from mailmatch.webhooks.jobs import WEBHOOKS_DELIVER, deliver_handler, deliver_job
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
    submitted: list[RunId] = field(default_factory=list)  # job runs, whichever runner runs them


def scheduler_registry(runner: ImportRunner, *, shared: bool = True) -> Registry:
    """The built-in kinds, running imports and deliveries with ``runner``'s services (its
    options, vault and settings). ``shared``: every import uses ``runner`` itself (one thread);
    otherwise each job gets its own import runner (a pool runs several at once)."""
    settings = runner.accounts.settings

    def make_runner(_ctx: object, _workspace_id: int) -> ImportRunner:
        return runner if shared else ImportRunner(runner.accounts, runner.options, runner.sleep)

    def make_service(_ctx: object) -> WebhookService:
        guard = Guard.from_settings(settings)
        return WebhookService(runner.db, runner.accounts.vault, guard=guard)

    return (
        builtin_registry()
        .with_handler(IMPORT_RUN, import_handler(make_runner))
        .with_handler(WEBHOOKS_DELIVER, deliver_handler(make_service))
    )


def inline_runner(runner: ImportRunner) -> InlineRunner:
    return InlineRunner(runner.db, runner.accounts.settings, scheduler_registry(runner))


def due_imports(runner: ImportRunner) -> list[tuple[int, str, int]]:
    """(id, name, workspace id) of every due import, of every workspace, the longest due first."""
    with runner.db.session() as session:
        rows = session.execute(
            select(Import.id, Import.name, Import.workspace_id)
            .where(Import.every_seconds.is_not(None), Import.next_run_at <= now())
            .order_by(Import.next_run_at)
        ).all()
    return [(int(import_id), str(name), int(ws)) for import_id, name, ws in rows]


def run_due(runner: ImportRunner, jobs: Runner | None = None) -> Tick:
    """Submit every due import; with the inline runner (the default) the tick says what ran."""
    jobs = jobs or inline_runner(runner)
    tick = Tick()
    start = len(jobs.ran) if isinstance(jobs, InlineRunner) else 0
    for import_id, name, workspace_id in due_imports(runner):
        try:
            tick.submitted.append(jobs.submit(import_job(import_id, workspace_id, name)))
        except MailmatchError as exc:
            log.error("import %s: %s", name, exc.message)
            tick.skipped[import_id] = Skip(name, exc.code)
    if isinstance(jobs, InlineRunner):
        for ran in jobs.ran[start:]:
            if ran.job.kind != IMPORT_RUN:
                continue
            if ran.state == DONE:
                tick.ran.append(ran.value)
            else:
                why = str((ran.error or {}).get("code") or ran.state)
                if ran.state != "skipped":
                    log.error("import %s: %s", ran.job.args.get("name"), ran.error)
                tick.skipped[int(ran.job.args["import_id"])] = Skip(
                    str(ran.job.args.get("name")), why
                )
    return tick


def deliver_webhooks(runner: ImportRunner, jobs: Runner | None = None) -> DeliveryReport:
    """Send every workspace's due webhook deliveries, through the settings' address guard."""
    jobs = jobs or inline_runner(runner)
    start = len(jobs.ran) if isinstance(jobs, InlineRunner) else 0
    jobs.submit(deliver_job())
    if isinstance(jobs, InlineRunner):
        for ran in jobs.ran[start:]:
            if ran.job.kind == WEBHOOKS_DELIVER and isinstance(ran.value, DeliveryReport):
                return ran.value
    return DeliveryReport()


def tick(runner: ImportRunner, jobs: Runner | None = None) -> Tick:
    """One round of the scheduler: retries that are due, the due imports, then the due webhook
    deliveries (those the imports just queued included)."""
    jobs = jobs or inline_runner(runner)
    jobs.run_due()
    done = run_due(runner, jobs)
    done.webhooks = deliver_webhooks(runner, jobs)
    return done


def worker_loop(
    runner: ImportRunner, interval: float, stop: threading.Event, jobs: Runner | None = None
) -> None:
    """Poll until ``stop`` is set; errors in one import never stop the loop."""
    jobs = jobs or inline_runner(runner)
    while not stop.is_set():
        try:
            done = tick(runner, jobs)
            for result in done.ran:
                log.info("import %s: %s, %d new", result.name, result.state, result.new)
        except Exception:
            log.exception("scheduler tick failed")
        stop.wait(interval)
