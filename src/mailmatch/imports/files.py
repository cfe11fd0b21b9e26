"""Import mail files (mbox, Maildir, .eml) through the same pipeline as IMAP.

Messages are parsed and stored in batches; the content hash makes a second import of the same
file add nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mailmatch.files.readers import detect_kind, iter_messages
from mailmatch.ingest.parse import parse_message
from mailmatch.store.messages import Incoming, MessageStore
from mailmatch.store.space import disk_full_as_error


@dataclass
class FileImportResult:
    path: str
    kind: str
    messages: int = 0
    new: int = 0
    skipped_duplicates: int = 0
    defective: int = 0
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["seconds"] = round(self.seconds, 3)
        return data


def import_file(
    store: MessageStore,
    path: Path,
    *,
    batch_size: int = 500,
    progress: Callable[[int], None] | None = None,
    on_stored: Callable[[list[int]], object] | None = None,
) -> FileImportResult:
    started = time.monotonic()
    result = FileImportResult(str(path), detect_kind(path))
    batch: list[Incoming] = []

    def flush() -> None:
        with disk_full_as_error(store.db):  # one clear DiskFull; the batches before it stay
            stored = store.add_batch(batch)
            if on_stored and stored.message_pks:
                on_stored(stored.message_pks)
        result.new += stored.new
        result.skipped_duplicates += stored.duplicates
        result.defective += stored.defective
        batch.clear()
        if progress:
            progress(result.messages)

    for message in iter_messages(path):
        result.messages += 1
        parsed = parse_message(message.raw, max_attachment_bytes=store.attachment_cap)
        batch.append(Incoming(message.raw, parsed))
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    result.seconds = time.monotonic() - started
    return result
