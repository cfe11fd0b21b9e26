"""Imports started from the browser ("Start Import Manually"), run as ``import.run`` jobs.

The run and its progress are rows of ``job_runs``, not this process's memory: the page and the
API read them back, so a run started by another process (another ``serve``, a ``worker``)
shows its progress here too. The import's key lease is what keeps two runs of one import apart,
so a run started by the scheduler or the CLI at the same time is refused the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from mailmatch.config import Settings
from mailmatch.jobs import table
from mailmatch.jobs.builtin import builtin_registry
from mailmatch.jobs.lease import live_holder
from mailmatch.jobs.model import JobContext, RunView
from mailmatch.jobs.runners import ThreadRunner
from mailmatch.store.db import Database
from mailmatch.store.models import Import
from mailmatch.sync.jobs import IMPORT_RUN, import_handler, import_job
from mailmatch.sync.lease import import_key
from mailmatch.sync.runner import ImportRunner
from mailmatch.timeutil import now


@dataclass(frozen=True)
class LiveRun:
    """An import's run as the page shows it, read from its job run."""

    workspace_id: int
    name: str
    run: RunView

    @property
    def finished(self) -> bool:
        return not self.run.active

    def progress(self) -> list[tuple[str, int, int]]:
        folders = (self.run.progress or {}).get("folders") or []
        return [(str(f["folder"]), int(f["done"]), int(f["total"])) for f in folders]

    def to_json(self) -> dict[str, Any]:
        folders = self.progress()
        return {
            "import": self.name,
            "running": not self.finished,
            "seconds": self.run.seconds(now()) or 0.0,
            "folders": [{"folder": f, "done": d, "total": t} for f, d, t in folders],
            "done": sum(d for _, d, _ in folders),
            "total": sum(t for _, _, t in folders),
            "result": self.run.result if self.run.state == "done" else None,
            "error": self.run.error if self.run.state != "done" else None,
        }


class RunRegistry:
    """``make_runner`` builds the import runner of a workspace (tests put a stand-in there)."""

    def __init__(
        self, db: Database, settings: Settings, make_runner: Callable[[int], ImportRunner]
    ) -> None:
        self.db = db
        self.settings = settings
        self.make_runner = make_runner
        self._jobs: ThreadRunner | None = None

    def _runner(self) -> ThreadRunner:
        if self._jobs is None:

            def make(_ctx: JobContext, workspace_id: int) -> ImportRunner:
                return self.make_runner(workspace_id)

            registry = builtin_registry().with_handler(IMPORT_RUN, import_handler(make))
            self._jobs = ThreadRunner(self.db, self.settings, registry, self.settings.job_threads)
        return self._jobs

    def _import_id(self, workspace_id: int, name: str) -> int | None:
        with self.db.read() as conn:
            found = conn.scalar(
                select(Import.id).where(Import.workspace_id == workspace_id, Import.name == name)
            )
        return int(found) if found is not None else None

    def get(self, workspace_id: int, name: str) -> LiveRun | None:
        """The run going on now (started by anyone), else the last one started by hand."""
        import_id = self._import_id(workspace_id, name)
        if import_id is None:
            return None
        for run in table.latest(self.db, import_key(import_id)):
            if run.active or run.args.get("manual"):
                return LiveRun(workspace_id, name, run)
        return None

    def start(self, workspace_id: int, name: str) -> LiveRun | None:
        """Start a run unless one is under way; returns the run either way."""
        import_id = self._import_id(workspace_id, name)
        if import_id is None:
            return None
        self._runner().submit(import_job(import_id, workspace_id, name, manual=True))
        return self.get(workspace_id, name)

    def run_queued(self, run_id: int) -> None:
        """Execute a queued run (a retried one) on this server's pool."""
        self._runner().start(run_id)

    def wait(self, workspace_id: int, name: str, timeout: float) -> LiveRun | None:
        """For tests and the CLI: block until the run ends (its lease released) or ``timeout``."""
        deadline = time.monotonic() + timeout
        import_id = self._import_id(workspace_id, name)
        while time.monotonic() < deadline:
            run = self.get(workspace_id, name)
            ended = run is None or run.finished
            if ended and (import_id is None or live_holder(self.db, import_key(import_id)) is None):
                return run
            time.sleep(0.05)
        return self.get(workspace_id, name)

    def shutdown(self, *, cancel: bool = True, timeout: float = 10) -> None:
        """Ask the runs of this server to stop at a safe point (the server is stopping)."""
        if self._jobs is not None:
            self._jobs.shutdown(cancel=cancel, timeout=timeout)
