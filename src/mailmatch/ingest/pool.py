"""Parse batches of messages in worker processes while the importer stores.

Parsing is pure CPU work in Python (about 0.3 ms a message), so on a machine with more than one
core it runs beside the IMAP fetch and the database writes instead of between them. Small jobs
(an incremental run with a handful of new messages) parse in-process: starting workers would
cost more than it saves.

Workers are forked before the importer starts any thread, and receive nothing but bytes.

Workers die with the importer, however it ends (``kill -9``, the OOM killer): an orphan would
otherwise wait on its task queue forever, holding the importer's inherited IMAP socket and
database files. Two guards, because each has a gap the other covers:

* on Linux the kernel sends the worker SIGKILL when its parent goes (``PR_SET_PDEATHSIG``),
  even if the worker is stuck in C code that holds the GIL. The signal is tied to the parent
  *thread* that forked: the pool forks in the thread that creates it, which also uses and
  closes it, so that thread ending before the pool is closed cannot happen here;
* everywhere, each worker watches a pipe that only the parent can write to: when the parent
  is gone, the read returns end-of-file and the worker exits.

A Ctrl-C in a terminal reaches the whole process group, workers included: they ignore SIGINT
and leave the interrupt to the importer, which stops them (no traceback from each worker).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import sys
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from types import TracebackType

from mailmatch.ingest.models import ParsedMessage
from mailmatch.ingest.parse import parse_message

MIN_MESSAGES_FOR_WORKERS = 300
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _parse_all(raws: list[bytes], cap: int) -> list[ParsedMessage]:
    return [parse_message(raw, max_attachment_bytes=cap) for raw in raws]


def _die_with_parent(parent: int, lifeline_read: int, lifeline_write: int) -> None:
    """Worker start-up (runs in each forked worker): exit as soon as ``parent`` is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the importer handles Ctrl-C and stops us
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # blocked across the fork
    os.close(lifeline_write)  # only the parent's copy may keep the pipe open
    if sys.platform == "linux":
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # it died before the guards were in place
        os._exit(1)

    def watch() -> None:
        while True:
            try:
                if not os.read(lifeline_read, 1):
                    break
            except InterruptedError:
                continue
            except OSError:
                break
        os._exit(1)

    threading.Thread(target=watch, name="lifeline", daemon=True).start()


def default_workers() -> int:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(0, min(4, (cpus or 1) - 1))


class ParsePool:
    """``submit(raws)`` returns a future of the parsed messages, in order."""

    def __init__(self, expected: int, cap: int, workers: int | None = None) -> None:
        self.cap = cap
        count = default_workers() if workers is None else workers
        self._executor: ProcessPoolExecutor | None = None
        self.workers = 0  # processes parsing; 0: batches are parsed in the calling thread
        if count > 0 and expected >= MIN_MESSAGES_FOR_WORKERS:
            self.workers = count
            context = multiprocessing.get_context("fork")
            # Not inheritable (os.pipe's default): a program exec'd meanwhile never holds it.
            self._lifeline = os.pipe()
            self._executor = ProcessPoolExecutor(
                count,
                mp_context=context,
                initializer=_die_with_parent,
                initargs=(os.getpid(), *self._lifeline),
            )
            # Fork now, before any thread is started, with SIGINT held back until the workers
            # ignore it (a Ctrl-C meanwhile reaches this process once the workers are up).
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
            for fd in self._lifeline:  # a worker that did not stop reads end-of-file and exits
                os.close(fd)

    def __enter__(self) -> ParsePool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
