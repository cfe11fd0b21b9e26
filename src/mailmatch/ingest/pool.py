"""Parse batches of messages in worker processes while the importer stores.

Parsing is pure CPU work in Python (about 0.3 ms a message), so on a machine with more than one
core it runs beside the IMAP fetch and the database writes instead of between them. Small jobs
(an incremental run with a handful of new messages) parse in-process: starting workers would
cost more than it saves.

Where the importer runs other threads, workers are started by a fork server (the
``forkserver`` start method), never forked from the importer itself: ``serve`` and ``worker``
run imports on threads beside the web server and the scheduler, and a process forked while
another thread holds a lock (a module being imported, an allocator lock in a C library) inherits
that lock held forever: the worker hangs the first time it needs it. The fork server is a
single-threaded process started once per importer process, with the parse modules preloaded
(``set_forkserver_preload``), so a worker costs one fork of it. Starting it costs a Python start
and those imports (0.1-0.4 s measured), so a process with no other thread (``mailmatch imports
run``, ``import-file``) forks its workers directly: with one thread no lock can be held by
another, and ``ProcessPoolExecutor`` forks every worker up front, before it starts its own
management thread (CPython does this for exactly that reason). Workers receive nothing but bytes.

Workers die with the importer, however it ends (``kill -9``, the OOM killer): an orphan would
otherwise wait on its task queue forever. Two guards, because each has a gap the other covers:

* on Linux the kernel sends the worker SIGKILL when its parent goes (``PR_SET_PDEATHSIG``),
  even if the worker is stuck in C code that holds the GIL. The parent is the fork server
  (single-threaded, so the thread the signal is tied to lives as long as it does), and the
  fork server exits as soon as the importer is gone (end-of-file on its own lifeline); forked
  directly, the parent is the importer's one thread, which lives as long as the importer;
* everywhere, each worker watches a pipe to the importer that only the importer can write to
  (its read end handed to the worker as a ``Connection``, which multiprocessing passes to a
  fork-server child): when the importer is gone, the read returns end-of-file and the worker
  exits.

A Ctrl-C in a terminal reaches the whole process group, the fork server and the workers
included: the fork server ignores SIGINT by itself, the workers ignore it too and leave the
interrupt to the importer, which stops them (no traceback from each worker).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import sys
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing.connection import Connection
from types import TracebackType

from mailmatch.ingest.models import ParsedMessage
from mailmatch.ingest.parse import parse_message

MIN_MESSAGES_FOR_WORKERS = 300
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
# Imported once by the fork server, so that a worker starts with them loaded. ``__main__``: when
# the program was started from a script (the ``mailmatch`` console script), multiprocessing
# imports that script in every child it starts; preloaded, the fork server's children have it.
PRELOAD = ["__main__", "mailmatch.ingest.pool"]


def _parse_all(raws: list[bytes], cap: int) -> list[ParsedMessage]:
    return [parse_message(raw, max_attachment_bytes=cap) for raw in raws]


def _die_with_parent(lifeline: Connection) -> None:
    """Worker start-up: exit as soon as the importer (the writer of ``lifeline``) is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the importer handles Ctrl-C and stops us
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # blocked across the start
    if sys.platform == "linux":
        forker = os.getppid()
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != forker:  # the fork server went before the guard was in place
            os._exit(1)

    def watch() -> None:
        # End-of-file (also when the importer died before this thread started) or an error:
        # nobody is left to send work.
        with contextlib.suppress(EOFError, OSError):
            while True:
                lifeline.recv_bytes()
        os._exit(1)

    threading.Thread(target=watch, name="lifeline", daemon=True).start()


def default_workers() -> int:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(0, min(4, (cpus or 1) - 1))


def start_method() -> str:
    """``fork`` while this process runs one thread only, else ``forkserver`` (see above)."""
    return "fork" if threading.active_count() == 1 else "forkserver"


class ParsePool:
    """``submit(raws)`` returns a future of the parsed messages, in order."""

    def __init__(self, expected: int, cap: int, workers: int | None = None) -> None:
        self.cap = cap
        count = default_workers() if workers is None else workers
        self._executor: ProcessPoolExecutor | None = None
        self.workers = 0  # processes parsing; 0: batches are parsed in the calling thread
        if count > 0 and expected >= MIN_MESSAGES_FOR_WORKERS:
            self.workers = count
            context = multiprocessing.get_context(start_method())
            if context.get_start_method() == "forkserver":
                context.set_forkserver_preload(PRELOAD)  # used when this process starts it
            # Not inheritable (os.pipe's default): a program exec'd meanwhile never holds it.
            # Workers start as batches come (the fork server's pool grows on demand), so the read
            # end stays open here until close: each new worker gets its own copy of it.
            self._lifeline = context.Pipe(duplex=False)
            self._executor = ProcessPoolExecutor(
                count,
                mp_context=context,
                initializer=_die_with_parent,
                initargs=(self._lifeline[0],),
            )
            # Start a worker (and the fork server, the first time) now, with SIGINT held back
            # until the worker ignores it (a Ctrl-C meanwhile reaches this process afterwards).
            held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
            try:
                self._executor.submit(int).result()
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, held)

    def submit(self, raws: list[bytes]) -> Future[list[ParsedMessage]]:
        if self._executor is not None:
            return self._executor.submit(_parse_all, raws, self.cap)
        future: Future[list[ParsedMessage]] = Future()
        future.set_result(_parse_all(raws, self.cap))
        return future

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(cancel_futures=True)
            self._executor = None
            for end in self._lifeline:  # a worker that did not stop reads end-of-file and exits
                end.close()

    def __enter__(self) -> ParsePool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
