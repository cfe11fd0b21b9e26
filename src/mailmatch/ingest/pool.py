"""Parse batches of messages in worker processes while the importer stores.

Parsing is pure CPU work in Python (about 0.3 ms a message), so on a machine with more than one
core it runs beside the IMAP fetch and the database writes instead of between them. Small jobs
(an incremental run with a handful of new messages) parse in-process: starting workers would
cost more than it saves.

Workers are forked before the importer starts any thread, and receive nothing but bytes.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor
from types import TracebackType

from mailmatch.ingest.models import ParsedMessage
from mailmatch.ingest.parse import parse_message

MIN_MESSAGES_FOR_WORKERS = 300


def _parse_all(raws: list[bytes], cap: int) -> list[ParsedMessage]:
    return [parse_message(raw, max_attachment_bytes=cap) for raw in raws]


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
            self._executor = ProcessPoolExecutor(count, mp_context=context)
            self._executor.submit(int).result()  # fork now, before any thread is started

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

    def __enter__(self) -> ParsePool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
