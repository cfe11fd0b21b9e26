"""Ctrl-C during an import: stop at the next safe point, never in the middle of a write.

Python turns SIGINT into a ``KeyboardInterrupt`` raised wherever the main thread happens to
be, including inside SQLAlchemy between a statement and its bookkeeping: the interrupted
batch could then keep SQLite's write lock while the run tries to record its own failure
(a hang, measured). Instead, while an import runs, the first SIGINT only sets a flag; the
engine checks it between batches and while it waits for one, and raises :class:`Interrupted`
there, with every committed batch and its checkpoint intact and nothing half written.

A second Ctrl-C ends the process at once, for a user who does not want to wait: the
transaction in flight dies with the process (SQLite rolls it back), the parse workers follow
their parent, and the next run takes over the lease of the dead process and resumes from the
last committed checkpoint.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

EXIT_INTERRUPTED = 130  # what a shell reports for a command ended by SIGINT (128 + 2)


class Interrupted(Exception):
    """A stop was asked for (Ctrl-C); raised by the engine at a point where nothing is
    half written."""


def _handler(stop: threading.Event) -> Callable[[int, FrameType | None], None]:
    def on_sigint(_signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            sys.stderr.write(
                "\nStopped at once: the batch in flight is rolled back; "
                "the next run continues after the last stored batch.\n"
            )
            sys.stderr.flush()
            os._exit(EXIT_INTERRUPTED)
        stop.set()
        sys.stderr.write("\nStopping after the batch being stored (Ctrl-C again: at once)...\n")
        sys.stderr.flush()

    return on_sigint


def sigint_stops() -> threading.Event:
    """From now on, for the rest of the process (a command), SIGINT sets the returned event."""
    stop = threading.Event()
    signal.signal(signal.SIGINT, _handler(stop))
    return stop


@contextmanager
def stop_on_sigint() -> Iterator[threading.Event]:
    """While the block runs, SIGINT sets the yielded event instead of raising.

    Outside the main thread (the scheduler inside ``serve``) a signal handler cannot be
    installed: the event is then never set by a signal, and SIGINT stays the host's business.
    """
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = signal.signal(signal.SIGINT, _handler(stop))
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)
