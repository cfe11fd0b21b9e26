"""Jobs: runs in the database that any process reads, retries into a dead list, one key at once."""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from mailmatch.config import Settings, load_settings
from mailmatch.jobs import table
from mailmatch.jobs.builtin import builtin_registry
from mailmatch.jobs.lease import HOST, KeyLease
from mailmatch.jobs.model import Job, JobContext
from mailmatch.jobs.registry import Registry
from mailmatch.jobs.runners import InlineRunner, ThreadRunner, make_runner
from mailmatch.store.db import Database, make_engine, open_database
from mailmatch.store.jobs import JobLease
from mailmatch.timeutil import now
from tests.cli import run_mailmatch


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings({"MAILMATCH_HOME": str(tmp_path / "home")})


@pytest.fixture
def db(settings: Settings) -> Database:
    return open_database(settings)


def flaky_registry(calls: list[str]) -> Registry:
    registry = Registry()

    @registry.kind("test.broken", max_attempts=3, retry_delay=0)
    def broken(_ctx: JobContext, args: dict[str, Any]) -> None:
        calls.append(args["what"])
        raise RuntimeError(f"cannot {args['what']}")

    @registry.kind("test.ok")
    def fine(_ctx: JobContext, args: dict[str, Any]) -> dict[str, Any]:
        calls.append(args["what"])
        return {"did": args["what"]}

    return registry


def test_a_failing_job_goes_dead_after_its_retries_and_is_retried_or_dropped(
    db: Database, settings: Settings
) -> None:
    calls: list[str] = []
    runner = InlineRunner(db, settings, flaky_registry(calls))

    dead = runner.submit(Job("test.broken", {"what": "sync"}, "broken:1"))
    other = runner.submit(Job("test.broken", {"what": "send"}, "broken:2"))

    assert calls == ["sync"] * 3 + ["send"] * 3
    run = table.get(db, dead)
    assert (run.state, run.attempts) == ("dead", 3)
    assert run.error is not None and "cannot sync" in run.error["message"]
    assert [r.id for r in table.runs(db, states=("dead",))] == [other, dead]

    again = table.retry(db, dead)
    assert (again.state, again.attempts) == ("queued", 0)
    runner.run(dead)
    assert calls[-3:] == ["sync"] * 3 and table.get(db, dead).state == "dead"

    assert table.drop(db, other).id == other
    assert [r.id for r in table.runs(db, states=("dead",))] == [dead]
    done = runner.submit(Job("test.ok", {"what": "work"}, "ok:1"))
    with pytest.raises(Exception, match="only a dead run"):
        table.drop(db, done)
    assert [(r.job.key, r.state) for r in runner.ran][-1] == ("ok:1", "done")


def test_progress_of_a_run_is_read_by_another_process(db: Database, settings: Settings) -> None:
    release, started = threading.Event(), threading.Event()
    registry = Registry()

    @registry.kind("test.slow")
    def slow(ctx: JobContext, _args: dict[str, Any]) -> str:
        ctx.progress({"done": 3, "total": 10})
        started.set()
        release.wait(10)
        ctx.progress({"done": 10, "total": 10})
        return "finished"

    runner = ThreadRunner(db, settings, registry, threads=2)
    run_id = runner.submit(Job("test.slow", {}, "slow:1"))
    other = Database(
        make_engine(settings.database_url)
    )  # a second connection pool: another process's view
    try:
        assert started.wait(5)
        seen = table.get(other, run_id)
        assert (seen.state, seen.progress) == ("running", {"done": 3, "total": 10})
        assert seen.lease_owner is not None and seen.lease_owner.startswith(f"{HOST}:")
        release.set()
        assert runner.wait(5)
        seen = table.get(other, run_id)
        assert (seen.state, seen.progress, seen.result) == (
            "done",
            {"done": 10, "total": 10},
            "finished",
        )
    finally:
        release.set()
        runner.shutdown(timeout=5)
        other.engine.dispose()


def test_two_runners_never_run_one_key_at_once(db: Database, settings: Settings) -> None:
    release = threading.Event()
    running, most = [0], [0]
    lock = threading.Lock()
    registry = Registry()

    @registry.kind("test.exclusive")
    def exclusive(_ctx: JobContext, _args: dict[str, Any]) -> None:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        release.wait(10)
        with lock:
            running[0] -= 1

    other_db = Database(make_engine(settings.database_url))
    first = ThreadRunner(db, settings, registry, threads=2)
    second = ThreadRunner(other_db, settings, registry, threads=2)
    job = Job("test.exclusive", {}, "import:7")
    try:
        one = first.submit(job)
        deadline = time.monotonic() + 5
        while table.get(db, one).state != "running" and time.monotonic() < deadline:
            time.sleep(0.02)
        # The second runner joins the run of the key under way instead of starting another.
        assert second.submit(job) == one
        second.run_due()
        time.sleep(0.2)
        assert running[0] == 1
        release.set()
        assert first.wait(5) and second.wait(5)
        assert most[0] == 1 and table.get(db, one).state == "done"
        # A key held elsewhere (the CLI running that import) skips the run: it never overlaps.
        held = KeyLease(db, "import:7")
        assert held.acquire() is None
        skipped = second.submit(job)
        assert second.wait(5)
        run = table.get(db, skipped)
        assert run.state == "skipped" and run.error is not None
        assert run.error["code"] == "already_running" and held.owner in run.error["message"]
        held.release()
    finally:
        release.set()
        first.shutdown(timeout=5)
        second.shutdown(timeout=5)
        other_db.engine.dispose()


def test_a_lease_of_a_killed_process_is_taken_at_once_elsewhere_when_it_expires(
    db: Database,
) -> None:
    gone = KeyLease(db, "import:1", owner=f"{HOST}:{2**22 + 12345}:dead")  # no such pid
    assert not os.path.exists(f"/proc/{2**22 + 12345}")
    assert gone.acquire() is None
    assert KeyLease(db, "import:1").acquire() is None  # same host, process gone: taken over

    remote = KeyLease(db, "import:2", owner="other-host:1:abcd")
    assert remote.acquire() is None
    assert KeyLease(db, "import:2").acquire() == remote.owner  # another host: wait for expiry
    with db.session() as session:
        session.execute(
            update(JobLease)
            .where(JobLease.key == "import:2")
            .values(until=now() - timedelta(seconds=1))
        )
    assert KeyLease(db, "import:2").acquire() is None


def test_a_run_left_by_a_killed_worker_is_given_back_to_the_queue(
    db: Database, settings: Settings
) -> None:
    calls: list[str] = []
    runner = InlineRunner(db, settings, flaky_registry(calls))
    run = table.enqueue(db, Job("test.ok", {"what": "again"}, "ok:9"), max_attempts=2)
    lease = KeyLease(db, "ok:9", owner=f"{HOST}:{2**22 + 12345}:dead")
    assert lease.acquire() is None
    assert table.claim(db, run.id, lease.owner, 300) is not None  # then kill -9

    assert runner.submit(Job("test.ok", {"what": "again"}, "ok:9")) == run.id
    done = table.get(db, run.id)
    assert (done.state, done.attempts, done.result) == ("done", 2, {"did": "again"})
    assert calls == ["again"]


def test_the_setting_picks_the_runner(tmp_path: Path, db: Database) -> None:
    home = str(tmp_path / "home")
    inline = load_settings({"MAILMATCH_HOME": home, "MAILMATCH_JOB_RUNNER": "inline"})
    threads = load_settings({"MAILMATCH_HOME": home})
    assert isinstance(make_runner(inline, db, Registry()), InlineRunner)
    pool = make_runner(threads, db, Registry())
    assert isinstance(pool, ThreadRunner)
    pool.shutdown()
    wrong = load_settings({"MAILMATCH_HOME": home, "MAILMATCH_JOB_RUNNER": "celery"})
    with pytest.raises(Exception, match="not a runner"):
        make_runner(wrong, db, Registry())


def test_the_cli_lists_the_dead_runs_retries_and_drops_them(
    db: Database, settings: Settings
) -> None:
    def broken(_ctx: JobContext, _args: dict[str, Any]) -> None:
        raise RuntimeError("receiver exploded")

    failing = builtin_registry().with_handler("webhooks.deliver", broken)
    runner = InlineRunner(db, settings, failing)
    first = runner.submit(Job("webhooks.deliver", {}, "webhooks.deliver"))
    second = runner.submit(Job("webhooks.deliver", {}, "webhooks.deliver"))
    db.engine.dispose()

    listed = run_mailmatch(settings.home, "jobs", "failed", "--json")
    assert listed.returncode == 0, listed.stderr
    dead = [(r["id"], r["kind"], r["state"]) for r in json.loads(listed.stdout)]
    assert dead == [(second, "webhooks.deliver", "dead"), (first, "webhooks.deliver", "dead")]

    retried = run_mailmatch(settings.home, "jobs", "retry", str(first))
    assert retried.returncode == 0, retried.stderr
    assert f"Run {first} (webhooks.deliver webhooks.deliver): done" in retried.stdout
    dropped = run_mailmatch(settings.home, "jobs", "drop", str(second))
    assert dropped.returncode == 0 and f"Dropped run {second}" in dropped.stdout
    assert "The dead list is empty." in run_mailmatch(settings.home, "jobs", "failed").stdout
    again = run_mailmatch(settings.home, "jobs", "drop", str(first), "--json")
    assert again.returncode != 0 and "only a dead run" in again.stdout + again.stderr
    shown = run_mailmatch(settings.home, "jobs", "list").stdout
    assert "webhooks.deliver" in shown and "done" in shown
