"""The job kind ``import.run``: one run of one import, by id, in the import's own workspace.

The job runner holds the import's key lease (``import:<id>``) before the handler starts, so a
run from the scheduler, the web or a worker never overlaps another; the import's own health,
backoff and alerts are the import runner's business, so a failed login is a *done* job whose
result says ``connect_error``, and a paused import is a *skipped* one, never a dead job.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mailmatch.accounts.service import AccountService
from mailmatch.accounts.vault import Vault
from mailmatch.errors import MailmatchError
from mailmatch.jobs.model import Handler, Job, JobContext, JobSkipped
from mailmatch.jobs.registry import registry
from mailmatch.sync.lease import import_key
from mailmatch.sync.runner import ImportRunner, RunResult

IMPORT_RUN = "import.run"

#: How a handler gets the import runner for a workspace; the web app passes its own.
MakeRunner = Callable[[JobContext, int], ImportRunner]


def import_job(import_id: int, workspace_id: int, name: str, **extra: Any) -> Job:
    """The job that runs import ``import_id`` (``name`` is for display)."""
    args = {"import_id": import_id, "workspace_id": workspace_id, "name": name, **extra}
    return Job(IMPORT_RUN, args, import_key(import_id), workspace_id)


def runner_from_context(ctx: JobContext, workspace_id: int) -> ImportRunner:
    vault = Vault.from_settings(ctx.settings, ctx.db)
    return ImportRunner(AccountService(ctx.settings, ctx.db, vault, workspace_id=workspace_id))


def import_handler(make_runner: MakeRunner) -> Handler:
    def run_import(ctx: JobContext, args: dict[str, Any]) -> RunResult:
        runner = make_runner(ctx, int(args["workspace_id"]))
        folders: dict[str, tuple[int, int]] = {}

        def progress(folder: str, done: int, total: int) -> None:
            folders[folder] = (done, total)
            ctx.progress(
                {"folders": [{"folder": f, "done": d, "total": t} for f, (d, t) in folders.items()]}
            )

        try:
            return runner.run_import(int(args["import_id"]), progress, ctx.stop, ctx.lease)
        except MailmatchError as exc:  # paused, waiting for space, gone: nothing to retry
            raise JobSkipped(exc.code, exc.message, advice=exc.advice) from exc

    return run_import


registry.add(
    IMPORT_RUN,
    import_handler(runner_from_context),
    max_attempts=3,
    retry_delay=60,
    description="Run one import (IMAP) into the store, then match what it stored.",
)
