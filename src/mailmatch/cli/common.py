"""What every command module shares: the consoles, ``--json``, error printing, the settings
and the service factories more than one module uses, and ``exit_fast``.

Command modules import this module (and the renderers) and nothing else of the CLI; the
package's ``__init__`` imports them and adds their commands to the app: no import cycle.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import textwrap
from collections.abc import Callable, Iterable
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console

from mailmatch.cli import render
from mailmatch.config import (
    Settings,
    ensure_home,
    home_open_warning,
    load_settings,
    private_file,
)
from mailmatch.errors import ConnectError, MailmatchError

out = Console(width=render.output_width(sys.stdout))
err = Console(stderr=True, width=render.output_width(sys.stderr))

T = TypeVar("T")
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _settings() -> Settings:
    settings = load_settings()
    _setup_logging(settings)
    return settings


def _workspace(settings: Settings) -> tuple[Any, int]:
    """The database and the id of the workspace named by ``MAILMATCH_WORKSPACE``.

    Every command that reads or writes data builds its services with this id.
    """
    from mailmatch.store.db import open_database
    from mailmatch.store.workspaces import workspace_id

    db = open_database(settings)
    return db, workspace_id(db, settings.workspace)


def _setup_logging(settings: Settings) -> None:
    """Log to a file in the data home; the console shows only what commands print."""
    root = logging.getLogger()
    if any(isinstance(h, logging.FileHandler) for h in root.handlers):
        return
    ensure_home(settings)
    private_file(settings.log_file)  # FileHandler would make it 0644: it holds server answers
    handler = logging.FileHandler(settings.log_file, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    # Once per process (this setup runs once): every command, ``serve`` and ``worker`` too.
    if warning := home_open_warning(settings):
        logging.getLogger("mailmatch").warning(warning)
        err.print(f"[yellow]warning[/]: {warning}", highlight=False)


def _fail(exc: MailmatchError, as_json: bool) -> NoReturn:
    if as_json:
        payload: dict[str, Any] = {"error": {"code": exc.code, "message": exc.message}}
        payload["error"]["advice"] = exc.advice
        if isinstance(exc, ConnectError):
            payload["error"]["server_text"] = exc.diagnosis.server_text
        print(json.dumps(payload, indent=2))
    else:
        err.print(f"[bold red]error[/]: {exc.message}", highlight=False)
        for line in exc.advice:
            err.print(f"  - {line}", highlight=False)
    raise typer.Exit(1)


def _run(fn: Callable[[], T], as_json: bool = False) -> T:
    try:
        return fn()
    except MailmatchError as exc:
        _fail(exc, as_json)
    except OSError as exc:  # a missing file, a full disk: say so, no traceback
        error = MailmatchError(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
        error.code = "os_error"
        _fail(error, as_json)


def _emit(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def _emit_stream(items: Iterable[Any]) -> None:
    """A JSON array printed item by item, as ``_emit`` would print the whole list (same text),
    so that a long listing starts at once and never sits in memory twice."""
    first = True
    for item in items:
        body = textwrap.indent(json.dumps(item, indent=2, default=str), "  ")
        sys.stdout.write(("[\n" if first else ",\n") + body)
        first = False
    sys.stdout.write("[]\n" if first else "\n]\n")
    sys.stdout.flush()


def _read_password(password_stdin: bool, prompt: str) -> str:
    if password_stdin:
        return sys.stdin.read()
    return str(typer.prompt(prompt, hide_input=True))


def _service(settings: Settings) -> Any:
    from mailmatch.accounts.service import AccountService
    from mailmatch.accounts.vault import Vault

    db, workspace_id = _workspace(settings)
    return AccountService(
        settings, db, Vault.from_settings(settings, db), workspace_id=workspace_id
    )


def _store(settings: Settings) -> Any:
    from mailmatch.store.messages import MessageStore

    db, workspace_id = _workspace(settings)
    return MessageStore(db, attachment_cap=settings.attachment_cap, workspace_id=workspace_id)


def _records(settings: Settings) -> Any:
    from mailmatch.contacts.service import RecordService

    db, workspace_id = _workspace(settings)
    return RecordService(db, workspace_id=workspace_id)


def _print_change(change: Any, what: str) -> None:
    out.print(f"{what}; re-matched {change.rematched} message(s).", highlight=False, markup=False)


def _raise(exc: Exception) -> None:
    raise exc


_OWN_PROCESS = False  # set by own_process(), from main(): the command line is the whole process


def exit_fast(code: int) -> NoReturn:
    """End the process without tearing down the interpreter's heap.

    After a large import the heap holds ~100 MB of objects; freeing them one by one at exit
    takes 0.1-0.2 s and changes nothing, the OS takes the memory back anyway. The caller has
    closed its database first; logs and the output streams are flushed here. Inside another
    program (a test's ``CliRunner``), this is an ordinary ``typer.Exit``.
    """
    if not _OWN_PROCESS:
        raise typer.Exit(code)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def own_process() -> None:
    """Called by ``main()``: the command line is the whole process, so ``exit_fast`` may end it."""
    global _OWN_PROCESS
    _OWN_PROCESS = True
