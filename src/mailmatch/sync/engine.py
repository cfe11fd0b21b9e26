"""Copy one IMAP folder into the store, incrementally and exactly once.

Per folder the engine keeps UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ, EXISTS and ``last_uid`` (every
UID up to it is stored). After EXAMINE it picks a strategy:

* ``none``: UIDVALIDITY, UIDNEXT and EXISTS unchanged: nothing is fetched at all;
* ``new``: same UIDVALIDITY: only UIDs above ``last_uid`` are fetched;
* ``full``: first run: every UID the store has no location for;
* ``uidvalidity_reset``: the server renumbered the folder: messages are re-mapped to their new
  UIDs by Message-ID and size (headers only), and only the rest is downloaded.

Bodies are fetched with ``BODY.PEEK[]`` (never ``RFC822``, which sets \\Seen and which iCloud
answers with an empty body), in batches; each batch and its checkpoint commit together. A batch
is capped in messages and in bytes (see :mod:`mailmatch.sync.batches`).

A stop flag (set by Ctrl-C, see :mod:`mailmatch.sync.interrupt`) is looked at between batches
and while the engine waits for one, never inside a write: the run then ends with
:class:`Interrupted`, every committed batch and its checkpoint kept, within about one batch's
store time. A fetch in flight is cut by shutting the connection's socket down.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError
from sqlalchemy import Connection

from mailmatch.errors import MailmatchError
from mailmatch.imap.bodies import fetch_bodies
from mailmatch.ingest.models import ParsedMessage
from mailmatch.ingest.pool import ParsePool
from mailmatch.pipeline.writer import BatchWriter
from mailmatch.store.blobs import pack
from mailmatch.store.folder_states import FolderStates
from mailmatch.store.messages import Incoming, LocationKey, MessageStore
from mailmatch.store.space import disk_full_as_error
from mailmatch.sync.batches import (
    BATCH_BYTES,
    LOOKAHEAD,
    plan_batches,
    shared_byte_cap,
    small_limit,
)
from mailmatch.sync.interrupt import Interrupted
from mailmatch.sync.quiet_gc import quiet_gc

RATE_LIMIT = re.compile(r"\[(LIMIT|UNAVAILABLE|THROTTLED|OVERQUOTA|INUSE)\]|too many", re.I)
Progress = Callable[[str, int, int], None]
STOP_POLL = 0.1  # seconds between looks at the stop flag while waiting for a batch


@dataclass
class _Batch:
    """One fetched batch on its way to the store."""

    uids: list[int]  # asked for
    raws: list[tuple[int, bytes]]  # (uid, bytes) the server sent
    # Compressed in the fetching thread, not by the parse workers: zstandard releases the
    # GIL while it works, and the main process waits for the parse anyway.
    packed: list[tuple[str, bytes]]
    parsed: Future[list[ParsedMessage]]


class RateLimited(Exception):
    """The server asked us to slow down; the runner backs off instead of failing."""


@dataclass
class FolderResult:
    name: str
    strategy: str = "none"
    new: int = 0
    skipped_duplicates: int = 0
    defective: int = 0
    remapped: int = 0
    fetched: int = 0
    unfetched: list[int] = field(default_factory=list)  # left for the next run

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _server_call(fn: Callable[..., Any], *args: Any) -> Any:
    try:
        return fn(*args)
    except IMAPClientError as exc:
        if RATE_LIMIT.search(str(exc)):
            raise RateLimited(str(exc)) from exc
        raise


class FolderSync:
    def __init__(
        self,
        client: IMAPClient,
        store: MessageStore,
        account_id: int,
        *,
        batch_size: int = 500,
        batch_bytes: int = BATCH_BYTES,
        progress: Progress | None = None,
        checkpoint: Callable[[], None] | None = None,
        writer: BatchWriter | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        # Stores each batch and runs the after-store pipeline on it (none: store only).
        self.writer = writer or BatchWriter(store)
        self.stop = stop
        self.client = client
        self.store = store
        self.account_id = account_id
        self.batch_size = batch_size
        self.batch_bytes = batch_bytes
        self.progress = progress
        self.checkpoint = checkpoint
        # UIDs the server left out of a FETCH answer but still has: never checkpoint past them.
        self.unfetched: set[int] = set()
        self.states = FolderStates(store.db, account_id)

    # -- stopping ---------------------------------------------------------------------------

    def _check_stop(self) -> None:
        if self.stop is not None and self.stop.is_set():
            raise Interrupted("stopped by Ctrl-C")

    def _wait(self, future: Future[_Batch]) -> _Batch:
        """The batch, looking at the stop flag while it is fetched (a lock wait would not)."""
        if self.stop is not None:
            while not wait([future], timeout=STOP_POLL).done:
                self._check_stop()
        return future.result()

    def _cut_connection(self) -> None:
        """End a fetch in flight now instead of after its last byte: the fetch thread's read
        sees end-of-file, and the runner's logout fails fast (the run is over anyway). The
        plain socket's shutdown, not SSLSocket's: that one drops the TLS object the fetch
        thread is reading through."""
        with contextlib.suppress(OSError):
            socket.socket.shutdown(self.client.socket(), socket.SHUT_RDWR)

    # -- state ------------------------------------------------------------------------------

    def _save_state(self, conn: Connection, folder: str, **values: Any) -> None:
        self.states.save(conn, folder, **values)

    # -- the sync ---------------------------------------------------------------------------

    def run(self, folder: str, result: FolderResult | None = None) -> FolderResult:
        """Sync ``folder``; pass the result of an interrupted attempt to keep counting in it.

        A full disk is :class:`~mailmatch.errors.DiskFull` (never an ``OSError``, which the
        runner would take for a dropped connection and reconnect).
        """
        result = result or FolderResult(folder)
        with disk_full_as_error(self.store.db):
            return self._sync(folder, result)

    def _sync(self, folder: str, result: FolderResult) -> FolderResult:
        info = _server_call(self.client.select_folder, folder, True)
        uidvalidity = int(info[b"UIDVALIDITY"])
        uidnext = info.get(b"UIDNEXT")
        exists = int(info.get(b"EXISTS", 0))
        modseq = info.get(b"HIGHESTMODSEQ")
        state = self.states.load(folder)

        if (
            state is not None
            and state.uidvalidity == uidvalidity
            and uidnext is not None
            and state.uidnext == uidnext
            and state.exists == exists
            and state.last_uid >= uidnext - 1
        ):
            return result

        server_uids: set[int] | None = None
        if state is not None and state.uidvalidity == uidvalidity:
            result.strategy = result.strategy if result.strategy != "none" else "new"
            found = _server_call(self.client.search, ["UID", f"{state.last_uid + 1}:*"])
            todo = sorted(u for u in found if u > state.last_uid)
            last_uid = int(state.last_uid)
        else:
            if result.strategy == "none":
                result.strategy = "full" if state is None else "uidvalidity_reset"
            server_uids = set(_server_call(self.client.search, ["ALL"]))
            todo = sorted(server_uids - self.states.known_uids(folder, uidvalidity))
            last_uid = 0
            if state is not None:
                todo = self._remap(folder, uidvalidity, todo, result)

        self._check_stop()
        self._fetch_all(folder, uidvalidity, todo, result)
        last_uid = max([last_uid, *todo]) if todo else last_uid
        if server_uids:
            last_uid = max(last_uid, max(server_uids))
        if self.unfetched:  # the next run fetches them again (what it already has is deduped)
            last_uid = min(last_uid, min(self.unfetched) - 1)
            result.unfetched = sorted(self.unfetched)

        self.states.finish(
            folder,
            uidvalidity,
            forget_old=state is not None,  # also finishes a reset that an earlier run did not
            uidnext=uidnext,
            highestmodseq=modseq,
            last_uid=last_uid,
            exists=exists,
        )
        self._prune(folder, uidvalidity, exists, server_uids)
        return result

    def _fetch_all(
        self, folder: str, uidvalidity: int, todo: list[int], result: FolderResult
    ) -> None:
        """Fetch, parse and store ``todo`` in batches, as a pipeline.

        While the oldest batch is stored, the next ones are parsed by worker processes and
        fetched, so the slow steps overlap. Batches are still committed strictly in UID order,
        each with its checkpoint.
        """
        total = len(todo)
        if self.progress:
            self.progress(folder, 0, total)
        done = 0
        with (
            quiet_gc(),
            ParsePool(total, self.store.attachment_cap) as pool,
            ThreadPoolExecutor(1) as io,
        ):
            # Batches are fetched, then handed to the parse pool, by one background thread (the
            # connection is used by that thread only until the loop ends), ahead of the store:
            # each worker has a batch to parse while this thread stores the oldest one, and a
            # few more wait, so that parsing can get ahead where storing is the slower stage
            # (ham: many small messages) and the store can catch up where parsing is (spam:
            # HTML). Two batches ahead -> five made the corpus import 0.26 s faster (mean of
            # six paired runs); seven did not help further.
            ahead = pool.workers + LOOKAHEAD
            byte_cap = shared_byte_cap(self.batch_bytes, ahead)
            sizes = self._large_sizes(todo, byte_cap) if todo else {}
            batches = plan_batches(todo, self.batch_size, byte_cap, sizes) if todo else []

            def fetch_and_parse(uids: list[int]) -> _Batch:
                raws = self._fetch(uids)
                parsed = pool.submit([raw for _uid, raw in raws])
                return _Batch(uids, raws, [pack(raw) for _uid, raw in raws], parsed)

            queue = deque(io.submit(fetch_and_parse, uids) for uids in batches[:ahead])
            try:
                for index in range(len(batches)):
                    batch = self._wait(queue.popleft())
                    self._check_stop()
                    if index + ahead < len(batches):
                        queue.append(io.submit(fetch_and_parse, batches[index + ahead]))
                    done += self._store(folder, uidvalidity, batch, result)
                    if self.progress:
                        self.progress(folder, done, total)
            except BrokenProcessPool:  # seen by a submit (fetch thread) or by a result (here)
                raise MailmatchError(
                    "a parsing worker process died (killed, or out of memory); nothing after "
                    "the last stored batch was lost",
                    advice=["run the import again; lower MAILMATCH_FETCH_BATCH if memory is short"],
                ) from None
            except Interrupted:
                self._cut_connection()
                raise
            finally:
                for waiting in queue:
                    waiting.cancel()

    def _large_sizes(self, todo: list[int], batch_bytes: int) -> dict[int, int]:
        """RFC822.SIZE of the messages in ``todo`` larger than ``small_limit``.

        Asking the size of every message costs a FETCH answer per message (0.12 s for 6,046);
        a SEARCH LARGER finds the few that matter in one short answer, and the rest are known
        to be at most ``small_limit`` bytes each.
        """
        limit = small_limit(self.batch_size, batch_bytes)
        wanted = set(todo)
        try:
            found = _server_call(
                self.client.search, ["UID", f"{min(todo)}:{max(todo)}", "LARGER", str(limit)]
            )
            large = sorted(u for u in found if u in wanted)
        except IMAPClientError:  # a server without SEARCH LARGER: ask every size instead
            large = todo
        sizes: dict[int, int] = {}
        for start in range(0, len(large), 1000):
            chunk = large[start : start + 1000]
            response = _server_call(self.client.fetch, chunk, [b"RFC822.SIZE"])
            for uid in chunk:
                size = (response.get(uid) or {}).get(b"RFC822.SIZE")
                if size is not None:
                    sizes[uid] = int(size)
        return sizes

    def _fetch(self, uids: list[int]) -> list[tuple[int, bytes]]:
        response = _server_call(fetch_bodies, self.client, uids)
        raws, absent = [], []
        for uid in uids:
            raw = response.get(uid)
            if raw is None:
                absent.append(uid)
            else:
                raws.append((uid, raw))
        if absent:  # expunged meanwhile, or a server that skipped them: ask which
            still_there = _server_call(self.client.search, ["UID", ",".join(map(str, absent))])
            self.unfetched.update(u for u in still_there if u in absent)
        return raws

    def _store(self, folder: str, uidvalidity: int, batch: _Batch, result: FolderResult) -> int:
        parsed = batch.parsed.result()
        items = [
            Incoming(raw, message, LocationKey(self.account_id, folder, uidvalidity, uid), packed)
            for (uid, raw), message, packed in zip(batch.raws, parsed, batch.packed, strict=True)
        ]
        batch_max = max(batch.uids)
        if self.unfetched:
            batch_max = min(batch_max, min(self.unfetched) - 1)

        def checkpoint(conn: Connection) -> None:
            self._save_state(conn, folder, uidvalidity=uidvalidity, last_uid=batch_max)

        stored = self.writer.write(items, on_commit=checkpoint)  # then the pipeline runs
        result.fetched += len(items)
        result.new += stored.new
        result.skipped_duplicates += stored.duplicates
        result.defective += stored.defective
        if self.checkpoint:
            self.checkpoint()
        return len(batch.uids)

    def _remap(
        self, folder: str, uidvalidity: int, todo: list[int], result: FolderResult
    ) -> list[int]:
        """Give already stored messages their new UIDs, by Message-ID and size; return the rest."""
        remaining: list[int] = []
        for start in range(0, len(todo), 1000):
            uids = todo[start : start + 1000]
            response = _server_call(
                self.client.fetch, uids, [b"RFC822.SIZE", b"BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"]
            )
            by_key: dict[tuple[str, int], list[int]] = {}
            for uid in uids:
                data = response.get(uid) or {}
                header = next((v for k, v in data.items() if k.startswith(b"BODY[HEADER")), b"")
                mid = _message_id(header or b"")
                size = data.get(b"RFC822.SIZE")
                if mid and size is not None:
                    by_key.setdefault((mid, int(size)), []).append(uid)
                else:
                    remaining.append(uid)
            # Two messages sharing Message-ID and size are ambiguous: download both.
            wanted = {key: found[0] for key, found in by_key.items() if len(found) == 1}
            remaining += [u for found in by_key.values() if len(found) > 1 for u in found]
            found = self.states.previous(folder, uidvalidity, wanted.keys())
            message_of: dict[int, int] = {}
            for key, uid in wanted.items():
                pk = found.get(key)
                if pk is None:
                    remaining.append(uid)
                else:
                    message_of[uid] = pk
            if message_of:
                self.states.remap(folder, uidvalidity, message_of)
                result.remapped += len(message_of)
            if self.checkpoint:
                self.checkpoint()  # a long re-map keeps the lease
            self._check_stop()
        return sorted(remaining)

    def _prune(
        self, folder: str, uidvalidity: int, exists: int, server_uids: set[int] | None
    ) -> None:
        """Forget locations of messages no longer in the folder (expunged or moved away).

        The messages themselves stay in the store: an import copies, it never deletes.
        """
        known = self.states.known_uids(folder, uidvalidity)
        if len(known) == exists:
            return
        if server_uids is None:
            server_uids = set(_server_call(self.client.search, ["ALL"]))
        self.states.forget(folder, uidvalidity, known - server_uids)


_MID = re.compile(rb"<\s*([^>\s]+)\s*>")


def _message_id(header: bytes) -> str | None:
    """The Message-ID as the parser normalises it (inside the angle brackets, no spaces)."""
    match = _MID.search(header)
    return match.group(1).decode("utf-8", "replace") if match else None
