"""Run one import: lease, log in, sync each folder, record health.

Health rules (the import's ``state``):

* ``ok`` after a successful run; ``running`` while one is under way;
* ``needs_app_password`` when a login that worked before is refused (the provider revoked the
  app password: an Apple Account password change revokes them all); ``auth_failed`` when it
  never worked. Both stop retrying the login, scheduled or manual, until the password is
  replaced, so a revoked password can never lock the account by repeated attempts;
* ``connect_error`` / ``rate_limited`` for transient failures: retried with exponential backoff,
  and an alert is raised only once the failure has lasted ``alert_after`` (default 4 hours);
* ``disk_full`` when the store's disk filled up: retried with backoff like a failure, but a
  run (scheduled or manual) does not even log in until more space is free than at the
  failure; alerted at once, since only the user can free space;
* ``account_blocked`` when the server says the account itself is blocked (RFC 5530
  ``[CONTACTADMIN]``): the password may be right, only the provider can lift the block; retried
  with backoff (a correct password locks nothing) and alerted at once;
* ``interrupted`` when the user stopped the run (Ctrl-C): not a failure (no backoff, no alert,
  the schedule unchanged); the figures are what was stored, and the next run resumes.

A dropped connection mid-folder reconnects and resumes from the last checkpoint (a few times);
a rate-limit answer backs off and retries instead of failing the run.

A run happens in the import's own workspace, read from its row: the account, the store the
messages go to and the records they are matched against are all that workspace's.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError
from sqlalchemy import select, update

from mailmatch.accounts.service import AccountService
from mailmatch.accounts.tls import TlsOptions
from mailmatch.errors import Code, Diagnosis, DiskFull, MailmatchError, NotFound
from mailmatch.imap.folders import folder_infos, resolve_folders
from mailmatch.imap.session import Credentials, ProbeContext, SessionError, open_imap
from mailmatch.imports.service import import_row
from mailmatch.jobs.lease import KeyLease
from mailmatch.pipeline.runner import Pipeline
from mailmatch.pipeline.writer import BatchWriter
from mailmatch.store.messages import MessageStore
from mailmatch.store.models import Account, Alert, Import
from mailmatch.store.space import disk_full_as_error, space_is_back
from mailmatch.sync.engine import FolderResult, FolderSync, Progress, RateLimited
from mailmatch.sync.interrupt import Interrupted, stop_on_sigint
from mailmatch.sync.lease import Lease, LeaseLost
from mailmatch.timeutil import aware, now

log = logging.getLogger(__name__)

AUTH_CODES = {Code.AUTH_FAILED, Code.APP_PASSWORD_REQUIRED, Code.OAUTH_REQUIRED}
BLOCKED_STATES = {"needs_app_password", "auth_failed"}
DROPPED = (OSError, EOFError, IMAPClient.AbortError)
INTERRUPTED = "interrupted"
DISK_FULL = "disk_full"
ACCOUNT_BLOCKED = "account_blocked"


class AlreadyRunning(MailmatchError):
    code = "already_running"


class ImportBlocked(MailmatchError):
    code = "needs_app_password"


@dataclass
class RunResult:
    name: str
    state: str = "ok"
    folders: list[FolderResult] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def new(self) -> int:
        return sum(f.new for f in self.folders)

    def to_json(self) -> dict[str, Any]:
        return {
            "import": self.name,
            "state": self.state,
            "folders": [f.to_json() for f in self.folders],
            "new": self.new,
            "skipped_duplicates": sum(f.skipped_duplicates for f in self.folders),
            "defective": sum(f.defective for f in self.folders),
            "remapped": sum(f.remapped for f in self.folders),
            "errors": self.errors,
            "seconds": round(self.seconds, 3),
        }


@dataclass
class RunnerOptions:
    batch_size: int | None = None  # None: the setting MAILMATCH_FETCH_BATCH
    lease_seconds: float = 300
    alert_after: timedelta = timedelta(hours=4)
    reconnects: int = 3
    rate_limit_waits: tuple[float, ...] = (2.0, 8.0, 30.0)
    backoff_base: timedelta = timedelta(minutes=5)
    backoff_max: timedelta = timedelta(hours=6)


def _interrupted(result: RunResult) -> None:
    """Mark ``result`` as stopped by the user, saying what was kept."""
    result.state = INTERRUPTED
    stored = ", ".join(f"{f.name} {f.new}" for f in result.folders) or "nothing yet"
    again = f"mailmatch imports run {result.name}"
    result.errors.append(
        {
            "folder": result.folders[-1].name if result.folders else None,
            "code": INTERRUPTED,
            "message": f"stopped by Ctrl-C; the {result.new} new messages stored are kept "
            f"({stored})",
            "server_text": None,
            "advice": [f"run it again to continue where it stopped: {again}"],
        }
    )


def _error(d: Diagnosis, folder: str | None = None) -> dict[str, Any]:
    return {
        "folder": folder,
        "code": str(d.code),
        "message": d.message,
        "server_text": d.server_text,
        "advice": d.advice,
    }


class ImportRunner:
    """Runs imports of the workspace of ``accounts`` by name (``run``), or of any workspace by
    id (``run_import``, for the scheduler)."""

    def __init__(
        self,
        accounts: AccountService,
        options: RunnerOptions | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.accounts = accounts
        self.db = accounts.db
        self.workspace_id = accounts.workspace_id
        self.store = MessageStore(
            self.db,
            attachment_cap=accounts.settings.attachment_cap,
            workspace_id=self.workspace_id,
        )
        self.options = options or RunnerOptions()
        self.pipeline = Pipeline(self.db, self.workspace_id)  # matching, webhooks, ...
        self.sleep = sleep

    def run(
        self, name: str, progress: Progress | None = None, stop: threading.Event | None = None
    ) -> RunResult:
        """Run the import called ``name`` in this runner's workspace."""
        with self.db.session() as session:
            import_id = import_row(session, name, self.workspace_id).id
        return self.run_import(import_id, progress, stop)

    def run_import(
        self,
        import_id: int,
        progress: Progress | None = None,
        stop: threading.Event | None = None,
        lease: KeyLease | None = None,
    ) -> RunResult:
        """Run an import by id, in the workspace its row names.

        ``lease``: the import's key lease, already held by the caller (the job runner took it
        before calling); without one the run takes and releases it itself.

        ``stop``: set it to end the run at the next safe point; the result's state is then
        ``interrupted``. Without one, Ctrl-C (in the main thread) does the same, and once the
        run is recorded ``KeyboardInterrupt`` is raised, so that a caller that knows nothing of
        stop flags (the worker loop) still stops.
        """
        with self.db.session() as session:
            workspace_id = session.scalar(select(Import.workspace_id).where(Import.id == import_id))
        if workspace_id is None:
            raise NotFound(f"no import {import_id}")
        if workspace_id != self.workspace_id:
            runner = ImportRunner(
                self.accounts.in_workspace(workspace_id), self.options, self.sleep
            )
            return runner.run_import(import_id, progress, stop, lease)
        with stop_on_sigint() if stop is None else nullcontext(stop) as flag:
            result = self._run_import(import_id, progress, flag, lease)
        if stop is None and result.state == INTERRUPTED:
            raise KeyboardInterrupt
        return result

    def _run_import(
        self,
        import_id: int,
        progress: Progress | None,
        stop: threading.Event,
        held: KeyLease | None = None,
    ) -> RunResult:
        started = time.monotonic()
        with self.db.session() as session:
            row = session.get(Import, import_id)
            assert row is not None and row.workspace_id == self.workspace_id
            name = row.name
            account = session.get(Account, row.account_id)
            assert account is not None
            self._check_blocked(row, account)
            self._check_space(row)
            import_id, folders_wanted = row.id, row.folders
            ever_worked = row.last_ok_at is not None
        lease = held or Lease(self.db, import_id, self.options.lease_seconds)
        holder = None if held else lease.acquire()
        if holder is not None:
            raise AlreadyRunning(
                f"import {name!r} is already running ({holder})",
                advice=["wait for it to finish; two runs of one import never overlap"],
            )
        result = RunResult(name)
        self._set(import_id, state="running", last_run_at=now())
        try:
            # This import's own earlier runs are over (we hold its lease): what they stored
            # and left to the pipeline (killed, or a step failing) is taken back at once.
            writer = BatchWriter(self.store, self.pipeline, owner=f"import:{import_id}")
            with disk_full_as_error(self.db):
                writer.catch_up()
                self._run(
                    result, account.name, folders_wanted, ever_worked, lease, progress, stop, writer
                )
        except LeaseLost as exc:  # the other run records the import's state, not this one
            raise AlreadyRunning(exc.message) from exc
        except DiskFull as exc:
            result.state = DISK_FULL
            result.errors.append(exc.to_error())
        except MailmatchError as exc:  # e.g. the vault key is missing: say so, never "running"
            result.state = "connect_error"
            result.errors.append({"folder": None, "code": exc.code, "message": exc.message,
                                  "server_text": None, "advice": exc.advice})  # fmt: skip
        except KeyboardInterrupt:  # raised by the host's own SIGINT handling: record it too
            _interrupted(result)
            self._record(import_id, result)
            raise
        except BaseException as exc:
            result.state = "connect_error"
            result.errors.append({"folder": None, "code": "internal_error", "message": repr(exc)})
            self._record(import_id, result)
            raise
        finally:
            result.seconds = time.monotonic() - started
            if held is None:
                lease.release()
        self._record(import_id, result)
        return result

    # -- pieces ---------------------------------------------------------------------------

    @staticmethod
    def _check_blocked(row: Import, account: Account) -> None:
        if row.state not in BLOCKED_STATES:
            return
        # The run that was refused started at last_run_at: only a password saved after it is
        # new. (failing_since would let every later password through, wrong ones included.)
        failed_at = aware(row.last_run_at) or aware(row.failing_since) or now()
        if (aware(account.password_set_at) or failed_at) > failed_at:
            return  # a new password was saved since: try it once
        raise ImportBlocked(
            f"import {row.name!r} is paused: the server refused the password "
            f"({(row.last_error or {}).get('server_text') or row.state}).",
            advice=[
                *((row.last_error or {}).get("advice") or []),
                "Generate a new app password, then: "
                f"mailmatch accounts set-password {account.name}",
            ],
        )

    def _check_space(self, row: Import) -> None:
        """After a full disk, refuse to run (no login) until space has been freed."""
        if row.state != DISK_FULL:
            return
        full = space_is_back(self.db, (row.last_error or {}).get("free_bytes"))
        if full is not None:
            full.message = f"import {row.name!r} waits for space: {full.message}"
            raise full

    def _connect(self, account_name: str, ever_worked: bool) -> IMAPClient:
        view = self.accounts.get(account_name)
        provider = self.accounts.catalog.get(view.provider_id) if view.provider_id else None
        ctx = ProbeContext(
            provider=provider,
            tls=TlsOptions(ca_file=view.ca_file, fingerprint=view.cert_fingerprint),
            timeout=self.accounts.settings.connect_timeout,
            ever_worked=ever_worked,
        )
        password = self.accounts.password(account_name)
        return open_imap(view.imap, Credentials(view.username, password), ctx)

    def _batch_size(self, account_name: str) -> int:
        view = self.accounts.get(account_name)
        provider = self.accounts.catalog.get(view.provider_id) if view.provider_id else None
        cap = provider.max_fetch_batch if provider and provider.max_fetch_batch else None
        size = self.options.batch_size or self.accounts.settings.fetch_batch
        return min(size, cap) if cap else size

    def _run(
        self,
        result: RunResult,
        account_name: str,
        folders_wanted: list[str] | None,
        ever_worked: bool,
        lease: KeyLease,
        progress: Progress | None,
        stop: threading.Event,
        writer: BatchWriter,
    ) -> None:
        account_id = self.accounts_id(account_name)
        batch = self._batch_size(account_name)
        client: IMAPClient | None = None
        try:
            client = self._connect(account_name, ever_worked)
            names = resolve_folders(folders_wanted, folder_infos(client.list_folders()))
            for folder in names:
                if stop.is_set():
                    raise Interrupted("stopped by Ctrl-C")
                client, folder_result = self._sync_folder(
                    client, account_name, account_id, folder, batch, lease, progress, result, stop,
                    writer,
                )  # fmt: skip
                if folder_result is not None:
                    result.folders.append(folder_result)
        except Interrupted:
            _interrupted(result)
        except SessionError as exc:
            d = exc.diagnosis
            result.errors.append(_error(d))
            if d.code in AUTH_CODES:
                result.state = "needs_app_password" if ever_worked else "auth_failed"
            elif d.code is Code.RATE_LIMITED:
                result.state = "rate_limited"
            elif d.code is Code.ACCOUNT_BLOCKED:
                result.state = ACCOUNT_BLOCKED
            else:
                result.state = "connect_error"
        except RateLimited as exc:
            result.state = "rate_limited"
            result.errors.append({"folder": None, "code": "rate_limited", "server_text": str(exc)})
        except (*DROPPED, IMAPClientError) as exc:
            result.state = "connect_error"
            result.errors.append({"folder": None, "code": "server_error", "server_text": str(exc)})
        finally:
            if client is not None:
                try:
                    client.logout()
                except (*DROPPED, IMAPClientError):
                    pass

    def accounts_id(self, account_name: str) -> int:
        with self.db.session() as session:
            account_id = session.scalar(
                select(Account.id).where(
                    Account.workspace_id == self.workspace_id, Account.name == account_name
                )
            )
            assert account_id is not None
            return int(account_id)

    def _sync_folder(
        self,
        client: IMAPClient,
        account_name: str,
        account_id: int,
        folder: str,
        batch: int,
        lease: KeyLease,
        progress: Progress | None,
        result: RunResult,
        stop: threading.Event,
        writer: BatchWriter,
    ) -> tuple[IMAPClient, FolderResult | None]:
        """Sync one folder; on a dropped connection reconnect and resume from the checkpoint."""
        drops = waits = 0
        total = FolderResult(folder)
        while True:
            sync = FolderSync(
                client,
                self.store,
                account_id,
                batch_size=batch,
                progress=progress,
                checkpoint=lease.renew,
                writer=writer,
                stop=stop,
            )
            try:
                sync.run(folder, total)
            except (Interrupted, KeyboardInterrupt, DiskFull):
                result.folders.append(total)  # what this folder stored before the stop
                raise
            except RateLimited:
                if waits >= len(self.options.rate_limit_waits):
                    raise
                self.sleep(self.options.rate_limit_waits[waits])
                waits += 1
                continue
            except DROPPED as exc:
                drops += 1
                log.warning("connection lost in %s (%s); resuming", folder, exc)
                if drops > self.options.reconnects:
                    raise
                client = self._connect(account_name, True)
                continue
            except IMAPClientError as exc:
                result.errors.append(
                    {"folder": folder, "code": "server_error", "server_text": str(exc)}
                )
                return client, None
            return client, total

    def _set(self, import_id: int, **values: Any) -> None:
        with self.db.engine.begin() as conn:
            conn.execute(update(Import).where(Import.id == import_id).values(**values))

    def _record(self, import_id: int, result: RunResult) -> None:
        """Health, schedule and alerts after a run."""
        with self.db.session() as session:
            row = session.get(Import, import_id)
            assert row is not None
            stamp = now()
            row.state = result.state
            row.last_stats = result.to_json()
            if result.state == INTERRUPTED:  # not a failure: no backoff, no alert, same schedule
                row.last_error = result.errors[-1] if result.errors else None
                return
            if result.state == "ok":
                row.last_ok_at = stamp
                row.failing_since = None
                row.failures = 0
                row.last_error = result.errors[0] if result.errors else None
                if result.errors:  # a folder failed: keep any alert open, exit non-zero
                    return
                for alert in session.scalars(
                    select(Alert).where(Alert.import_id == row.id, Alert.resolved_at.is_(None))
                ):
                    alert.resolved_at = stamp
                if row.every_seconds:
                    row.next_run_at = stamp + timedelta(seconds=row.every_seconds)
                return
            row.last_error = result.errors[0] if result.errors else None
            row.failing_since = aware(row.failing_since) or stamp
            row.failures = (row.failures or 0) + 1
            delay = min(
                self.options.backoff_base * 2 ** (row.failures - 1), self.options.backoff_max
            )
            if row.every_seconds:
                row.next_run_at = stamp + max(delay, timedelta(seconds=row.every_seconds))
            blocked = result.state in BLOCKED_STATES or result.state in (DISK_FULL, ACCOUNT_BLOCKED)
            lasting = stamp - row.failing_since >= self.options.alert_after
            has_open = session.scalar(
                select(Alert.id).where(Alert.import_id == row.id, Alert.resolved_at.is_(None))
            )
            if (blocked or lasting) and has_open is None:
                error = row.last_error or {}
                session.add(
                    Alert(
                        import_id=row.id,
                        code=result.state,
                        message=f"import {row.name}: {error.get('message') or result.state}"
                        + (
                            f" (server: {error['server_text']})" if error.get("server_text") else ""
                        ),
                        created_at=stamp,
                    )
                )
