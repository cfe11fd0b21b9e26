"""REST API of job runs: the dead list, retry (run by this server) and drop, per workspace."""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from mailmatch.jobs.builtin import builtin_registry
from mailmatch.jobs.model import JobContext
from mailmatch.jobs.runners import InlineRunner
from mailmatch.sync.jobs import IMPORT_RUN, import_job
from mailmatch.users.service import UserView
from tests.web.conftest import bearer
from tests.web.test_api_imports import (
    API,
    BlockingRunner,
    import_id,
    make_account,
    make_import,
    state_of,
)


def dead_import_run(app: FastAPI, user: UserView) -> int:
    """An import run that failed every attempt (its handler crashed)."""

    def crash(_ctx: JobContext, _args: dict[str, Any]) -> None:
        raise RuntimeError("the parser crashed")

    state = state_of(app)
    registry = builtin_registry().with_handler(IMPORT_RUN, crash)
    runner = InlineRunner(state.db, state.settings, registry)
    return runner.submit(import_job(import_id(app, user, "work"), user.workspace_id, "work"))


def test_a_dead_run_is_listed_retried_by_the_server_and_dropped(
    app: FastAPI, client: TestClient, alice: UserView, bob: UserView
) -> None:
    make_account(app, alice)
    make_import(app, alice)
    fake = BlockingRunner()
    fake.release.set()
    state_of(app).runs.make_runner = lambda _ws: fake  # type: ignore[assignment,return-value]
    run_id = dead_import_run(app, alice)
    auth = bearer(app, alice)

    dead = client.get(f"{API}/jobs", params={"state": "dead"}, headers=auth).json()
    assert [(r["id"], r["kind"], r["attempts"]) for r in dead] == [(run_id, "import.run", 3)]
    assert "the parser crashed" in dead[0]["error"]["message"]
    assert client.get(f"{API}/jobs/{run_id}", headers=bearer(app, bob)).status_code == 404
    assert client.post(f"{API}/jobs/{run_id}/retry", headers=bearer(app, bob)).status_code == 404

    retried = client.post(f"{API}/jobs/{run_id}/retry", headers=auth)
    assert retried.status_code == 202, retried.text
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        shown = client.get(f"{API}/jobs/{run_id}", headers=auth).json()
        if shown["state"] == "done":
            break
        time.sleep(0.05)
    assert shown["state"] == "done" and shown["result"]["new"] == 10 and fake.calls == 1
    assert client.delete(f"{API}/jobs/{run_id}", headers=auth).status_code == 422  # not dead

    other = dead_import_run(app, alice)
    assert client.delete(f"{API}/jobs/{other}", headers=bearer(app, bob)).status_code == 404
    assert client.delete(f"{API}/jobs/{other}", headers=auth).status_code == 204
    assert client.get(f"{API}/jobs", params={"state": "dead"}, headers=auth).json() == []
