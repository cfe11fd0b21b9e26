"""Import mail files (mbox, Maildir, .eml) through the same pipeline as IMAP.

Messages are parsed and stored in batches; the content hash makes a second import of the same
file add nothing. A part of the input that cannot be read (a message file, a subfolder, an mbox
of an Apple Mail export) is skipped and named in the result while everything else is stored, so
one bad file costs that file, not the import; the caller decides what that means for its exit
code. The last message of an mbox that was cut short is stored with the defect ``truncated`` and
named too (see :mod:`mailmatch.files.mbox`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mailmatch.files.models import FileProblem
from mailmatch.files.readers import detect_kind, iter_messages
from mailmatch.ingest.parse import parse_message
from mailmatch.store.messages import BatchResult, Incoming, MessageStore
from mailmatch.store.space import disk_full_as_error

#: The defect recorded on a message whose file ended before the message did.
TRUNCATED = "truncated"


@dataclass
class FileImportResult:
    path: str
    kind: str
    messages: int = 0
    new: int = 0
    skipped_duplicates: int = 0
    defective: int = 0
    seconds: float = 0.0
    unreadable: list[FileProblem] = field(default_factory=list)  # skipped, not stored
    truncated: list[FileProblem] = field(default_factory=list)  # stored, flagged defective

    @property
    def skipped_unreadable(self) -> int:
        return len(self.unreadable)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "kind": self.kind,
            "messages": self.messages,
            "new": self.new,
            "skipped_duplicates": self.skipped_duplicates,
            "defective": self.defective,
            "seconds": round(self.seconds, 3),
            "skipped_unreadable": self.skipped_unreadable,
            "unreadable": [problem.to_json() for problem in self.unreadable],
            "truncated": [problem.to_json() for problem in self.truncated],
        }


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

    def flush() -> BatchResult:
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
        return stored

    for message in iter_messages(path, on_problem=result.unreadable.append):
        result.messages += 1
        parsed = parse_message(message.raw, max_attachment_bytes=store.attachment_cap)
        if message.truncated is None:
            batch.append(Incoming(message.raw, parsed))
            if len(batch) >= batch_size:
                flush()
            continue
        # At most one per mbox file: stored in a batch of its own, so that the store's figures
        # say whether it was new (a truncated message the parser read in full is still defective).
        result.truncated.append(FileProblem(message.source, message.truncated))
        parsed.defects.append(TRUNCATED)
        if batch:
            flush()
        batch.append(Incoming(message.raw, parsed))
        if flush().new and parsed.parse_level == "full":
            result.defective += 1
    if batch:
        flush()
    result.seconds = time.monotonic() - started
    return result
