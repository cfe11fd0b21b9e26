"""The one batch writer: parse, pack, store a batch, then run the after-store pipeline on it.

Every input goes through it: IMAP (:mod:`mailmatch.sync.engine`, which parses in worker
processes ahead of the store and hands over parsed, packed batches) and mail files
(:mod:`mailmatch.imports.files`, which parses here). A batch, its caller's checkpoint and the
pipeline's backlog row commit together; the steps run after the commit, and a step that raises
leaves the batch stored and in the backlog for a catch-up.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection

from mailmatch.ingest.models import ParsedMessage
from mailmatch.ingest.parse import parse_message
from mailmatch.pipeline.runner import Pipeline
from mailmatch.store.messages import BatchResult, Incoming, LocationKey, MessageStore
from mailmatch.store.space import disk_full_as_error


class BatchWriter:
    """Stores batches into ``store``; runs ``pipeline`` (none: store only) on the new mail.

    ``owner`` names the run in the backlog's claims (see :mod:`.backlog`), e.g. ``import:3``.
    """

    def __init__(
        self, store: MessageStore, pipeline: Pipeline | None = None, owner: str | None = None
    ) -> None:
        if pipeline is not None and pipeline.workspace_id != store.workspace_id:
            raise ValueError("the pipeline belongs to another workspace")
        self.store = store
        self.pipeline = pipeline
        self.owner = owner

    def parse(self, raw: bytes, location: LocationKey | None = None) -> Incoming:
        """One message parsed as the store wants it (attachments above its cap left out)."""
        parsed: ParsedMessage = parse_message(raw, max_attachment_bytes=self.store.attachment_cap)
        return Incoming(raw, parsed, location)

    def write(
        self, items: list[Incoming], on_commit: Callable[[Connection], None] | None = None
    ) -> BatchResult:
        """Store ``items`` (and ``on_commit``, the caller's checkpoint) in one transaction,
        then run the pipeline on the new messages. A full disk is one ``DiskFull``."""
        pipeline = self.pipeline
        row: list[int] = []

        def enqueue(conn: Connection, pks: list[int]) -> None:
            assert pipeline is not None
            row.append(pipeline.enqueue(conn, pks, self.owner))

        with disk_full_as_error(self.store.db):
            stored = self.store.add_batch(
                items, on_commit=on_commit, on_new=enqueue if pipeline is not None else None
            )
            if pipeline is not None and row:
                pipeline.process(row[0], stored.message_pks)
        return stored

    def catch_up(self) -> None:
        """Run what earlier batches left undone (killed runs, failing steps) first."""
        if self.pipeline is not None:
            self.pipeline.catch_up(reclaim=self.owner)
