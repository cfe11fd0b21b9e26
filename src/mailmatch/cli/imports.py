"""Commands for imports, mail files and the worker: ``imports``, ``import-file``, ``worker``.

Thin like the rest: parse, call a service, render. ``import-file`` and ``worker`` are
top-level commands, added to the app by :mod:`mailmatch.cli`.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from mailmatch.cli.common import (
    JsonOpt,
    _emit,
    _run,
    _service,
    _settings,
    _store,
    _workspace,
    err,
    exit_fast,
    out,
)
from mailmatch.config import Settings

imports_app = typer.Typer(no_args_is_help=True, help="Named imports of a mailbox's folders.")


def _runner(settings: Settings) -> Any:
    from mailmatch.sync.runner import ImportRunner

    return ImportRunner(_service(settings))


def _import_json(view: Any) -> dict[str, Any]:
    """An import for ``--json``: ``folders`` are the folders it reads (the defaults by name,
    resolved on the server once it has run), never null; ``default_folders`` says whether
    they are the default."""
    data: dict[str, Any] = view.to_json()
    return {**data, "folders": data["folders_used"]}


def _imports(settings: Settings) -> Any:
    from mailmatch.imports.service import ImportService

    db, workspace_id = _workspace(settings)
    return ImportService(db, workspace_id=workspace_id)


@imports_app.command("create")
def imports_create(
    name: str,
    account: Annotated[str, typer.Option("--account", help="The account to read.")],
    folders: Annotated[
        str | None, typer.Option(help="Comma-separated folders (default: INBOX and Sent).")
    ] = None,
    every: Annotated[str | None, typer.Option(help="Schedule, e.g. 20m; none = manual.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a named import (start it with: mailmatch imports run NAME)."""
    from mailmatch.timeutil import parse_every

    settings = _settings()
    seconds = _run(lambda: parse_every(every), as_json) if every else None
    wanted = [f.strip() for f in folders.split(",") if f.strip()] if folders else None
    view = _run(lambda: _imports(settings).create(name, account, wanted, seconds), as_json)
    if as_json:
        _emit(_import_json(view))
    else:
        out.print(f"Created import {name}. Start it with: mailmatch imports run {name}")


@imports_app.command("run")
def imports_run(name: str, as_json: JsonOpt = False) -> None:
    """Start Import Manually: run it now, with a progress bar. Ctrl-C stops it after the
    batch being stored (what was stored is kept; the next run continues)."""
    from mailmatch.sync.interrupt import EXIT_INTERRUPTED, sigint_stops

    settings = _settings()
    runner = _run(lambda: _runner(settings), as_json)
    stop = sigint_stops()
    if as_json or not sys.stderr.isatty():
        result = _run(lambda: runner.run(name, stop=stop), as_json)
    else:
        from mailmatch.cli.render_mail import import_progress

        with import_progress(err) as bar:
            tasks: dict[str, Any] = {}

            def progress(folder: str, done: int, total: int) -> None:
                if folder not in tasks:
                    tasks[folder] = bar.add_task(folder, total=total)
                bar.update(tasks[folder], completed=done, total=total)

            result = _run(lambda: runner.run(name, progress=progress, stop=stop))
    if as_json:
        _emit(result.to_json())
    else:
        from mailmatch.cli.render_mail import print_run

        print_run(out, result)
    runner.db.engine.dispose()  # the store is closed (and SQLite's WAL checkpointed) before exit
    if result.state == "interrupted":
        exit_fast(EXIT_INTERRUPTED)
    exit_fast(0 if result.state == "ok" and not result.errors else 1)


@imports_app.command("list")
def imports_list(as_json: JsonOpt = False) -> None:
    """Every import with its health."""
    settings = _settings()
    views = _run(lambda: _imports(settings).list(), as_json)
    if as_json:
        _emit([_import_json(v) for v in views])
        return
    from mailmatch.cli.render_mail import print_imports

    print_imports(out, views)


@imports_app.command("show")
def imports_show(name: str, as_json: JsonOpt = False) -> None:
    """One import: state, last run, last error with advice, folder checkpoints, alerts."""
    settings = _settings()
    view = _run(lambda: _imports(settings).get(name), as_json)
    if as_json:
        _emit(_import_json(view))
        return
    from mailmatch.cli.render_mail import print_import

    print_import(out, view)


@imports_app.command("remove")
def imports_remove(name: str) -> None:
    """Remove an import (stored messages stay)."""
    settings = _settings()
    _run(lambda: _imports(settings).remove(name))
    out.print(f"Removed import {name}.")


def import_file_cmd(
    path: Annotated[Path, typer.Argument(help="An mbox file, a Maildir or an .eml file.")],
    as_json: JsonOpt = False,
) -> None:
    """Import a mail file through the same pipeline as IMAP; importing twice adds nothing.

    A file or folder inside it that cannot be read is skipped and named, the rest is stored,
    and the exit code is then 1.
    """
    from mailmatch.imports.files import import_file

    settings = _settings()
    store = _run(lambda: _store(settings), as_json)
    from mailmatch.pipeline.runner import Pipeline

    pipeline = Pipeline(store.db, store.workspace_id)
    result = _run(lambda: import_file(store, path, pipeline=pipeline), as_json)
    if as_json:
        _emit(result.to_json())
    else:
        out.print(
            f"{result.messages} messages in {result.path} ({result.kind}): {result.new} new, "
            f"{result.skipped_duplicates} already stored, {result.defective} defective "
            f"(kept raw), {result.seconds:.1f}s",
            markup=False,
            soft_wrap=True,
        )
        for title, problems in (
            ("cut short, stored and flagged defective", result.truncated),
            ("could not be read, skipped", result.unreadable),
        ):
            if problems:
                out.print(f"{len(problems)} {title}:", markup=False)
                for problem in problems:
                    out.print(f"  {problem.source}: {problem.reason}", markup=False, soft_wrap=True)
    if result.unreadable:
        raise typer.Exit(1)


def worker_cmd(
    interval: Annotated[float, typer.Option(help="Seconds between schedule checks.")] = 30,
    once: Annotated[bool, typer.Option("--once", help="Run what is due now, then exit.")] = False,
) -> None:
    """Run scheduled imports and send webhooks when they are due (serve runs the same)."""
    from mailmatch.jobs.scheduler import tick, worker_loop

    settings = _settings()
    runner = _run(lambda: _runner(settings))
    if once:
        done = _run(lambda: tick(runner))
        for result in done.ran:
            out.print(f"{result.name}: {result.state}, {result.new} new")
        for skip in done.skipped.values():
            out.print(f"{skip.name}: skipped ({skip.why})")
        hooks = done.webhooks
        if hooks.delivered or hooks.retrying or hooks.failed:
            out.print(
                f"webhooks: {hooks.delivered} delivered, {hooks.retrying} to retry, "
                f"{hooks.failed} failed"
            )
        return
    from mailmatch.jobs.runners import make_runner
    from mailmatch.jobs.scheduler import scheduler_registry

    stop = threading.Event()
    jobs = _run(lambda: make_runner(settings, runner.db, scheduler_registry(runner, shared=False)))
    out.print(f"Checking for due imports every {interval:g}s; Ctrl-C stops.")
    try:
        worker_loop(runner, interval, stop, jobs)
    except KeyboardInterrupt:
        stop.set()
        jobs.shutdown(cancel=True, timeout=60)  # running imports stop after their batch
