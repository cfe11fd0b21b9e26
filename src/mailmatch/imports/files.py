"""Import mail files (mbox, Maildir, .eml) through the same pipeline as IMAP.

Messages are parsed and stored in batches by the batch writer IMAP uses too
(:mod:`mailmatch.pipeline.writer`), which runs the after-store pipeline on each; the content
hash makes a second import of the same file add nothing. A part of the input that cannot be
read (a message file, a subfolder, an mbox of an Apple Mail export) is skipped and named in the
result while everything else is stored, so one bad file costs that file, not the import; the
caller decides what that means for its exit code. The last message of an mbox that was cut
short is stored with the defect ``truncated`` and named too (see :mod:`mailmatch.files.mbox`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mailmatch.files.models import FileProblem
from mailmatch.files.readers import detect_kind, iter_messages
from mailmatch.pipeline.runner import Pipeline
from mailmatch.pipeline.writer import BatchWriter
from mailmatch.store.messages import BatchResult, Incoming, MessageStore

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
    pipeline: Pipeline | None = None,
) -> FileImportResult:
    """Store the messages of ``path``; ``pipeline`` (none: store only) runs on each batch,
    after what earlier imports left it to do."""
    started = time.monotonic()
    result = FileImportResult(str(path), detect_kind(path))
    writer = BatchWriter(store, pipeline)
    writer.catch_up()
    batch: list[Incoming] = []

    def flush() -> BatchResult:
        stored = writer.write(batch)  # one clear DiskFull; the batches before it stay
        result.new += stored.new
        result.skipped_duplicates += stored.duplicates
        result.defective += stored.defective
        batch.clear()
        if progress:
            progress(result.messages)
        return stored

    for message in iter_messages(path, on_problem=result.unreadable.append):
        result.messages += 1
        incoming = writer.parse(message.raw)
        parsed = incoming.parsed
        if message.truncated is None:
            batch.append(incoming)
            if len(batch) >= batch_size:
                flush()
            continue
        # At most one per mbox file: stored in a batch of its own, so that the store's figures
        # say whether it was new (a truncated message the parser read in full is still defective).
        result.truncated.append(FileProblem(message.source, message.truncated))
        parsed.defects.append(TRUNCATED)
        if batch:
            flush()
        batch.append(incoming)
        if flush().new and parsed.parse_level == "full":
            result.defective += 1
    if batch:
        flush()
    result.seconds = time.monotonic() - started
    return result
