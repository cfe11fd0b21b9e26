"""Imports started from the browser ("Start Import Manually"), run on a background thread.

The page polls the progress kept here; the import's lease (not this registry) is what keeps
two runs of one import apart, so a run started by the scheduler or the CLI at the same time is
refused the same way.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mailmatch.errors import MailmatchError
from mailmatch.sync.runner import ImportRunner

log = logging.getLogger(__name__)


@dataclass
class LiveRun:
    workspace_id: int
    name: str
    started: float = field(default_factory=time.monotonic)
    folders: dict[str, tuple[int, int]] = field(default_factory=dict)  # folder -> done, total
    finished: bool = False
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None

    def progress(self) -> list[tuple[str, int, int]]:
        """A snapshot: the run's thread adds folders while a request reads them (``list()``
        copies the items in one step under the GIL; iterating the live dict could raise)."""
        return [(f, d, t) for f, (d, t) in list(self.folders.items())]

    def to_json(self) -> dict[str, Any]:
        folders = self.progress()
        return {
            "import": self.name,
            "running": not self.finished,
            "seconds": round(time.monotonic() - self.started, 1),
            "folders": [{"folder": f, "done": d, "total": t} for f, d, t in folders],
            "done": sum(d for _, d, _ in folders),
            "total": sum(t for _, _, t in folders),
            "result": self.result,
            "error": self.error,
        }


class RunRegistry:
    def __init__(self, make_runner: Callable[[int], ImportRunner]) -> None:
        self.make_runner = make_runner
        self._runs: dict[tuple[int, str], LiveRun] = {}
        self._lock = threading.Lock()

    def get(self, workspace_id: int, name: str) -> LiveRun | None:
        with self._lock:
            return self._runs.get((workspace_id, name))

    def start(self, workspace_id: int, name: str) -> LiveRun:
        """Start a run unless this server already runs it; returns the live run either way."""
        with self._lock:
            current = self._runs.get((workspace_id, name))
            if current is not None and not current.finished:
                return current
            run = LiveRun(workspace_id, name)
            self._runs[(workspace_id, name)] = run
        thread = threading.Thread(
            target=self._work, args=(run,), name=f"import-{name}", daemon=True
        )
        thread.start()
        return run

    def _work(self, run: LiveRun) -> None:
        def progress(folder: str, done: int, total: int) -> None:
            run.folders[folder] = (done, total)

        try:
            result = self.make_runner(run.workspace_id).run(run.name, progress=progress)
            run.result = result.to_json()
        except MailmatchError as exc:
            run.error = {"code": exc.code, "message": exc.message, "advice": exc.advice}
        except Exception as exc:  # shown on the page; the runner has recorded the import state
            log.exception("import %s failed", run.name)
            run.error = {"code": "internal_error", "message": repr(exc), "advice": []}
        finally:
            run.finished = True

    def wait(self, workspace_id: int, name: str, timeout: float) -> LiveRun | None:
        """For tests and the CLI: block until the run ends or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.get(workspace_id, name)
            if run is None or run.finished:
                return run
            time.sleep(0.05)
        return self.get(workspace_id, name)
