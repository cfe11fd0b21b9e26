"""The Core tables behind the ORM models, named once for the hot paths that bypass the ORM.

The store writes in bulk through Core (``bulk_insert``, raw executemany on SQLite), which
wants :class:`~sqlalchemy.Table` objects, not mapped classes. Every module takes them from
here instead of repeating ``Model.__table__`` (and its ``type: ignore``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table

from mailmatch.store.models import (
    AttachmentRow,
    Blob,
    FolderState,
    Location,
    Message,
    MessageAddress,
    PipelineBacklog,
    Thread,
    ThreadLink,
)
from mailmatch.store.records import MatchState, MessageLink
from mailmatch.store.sorting import (
    MessageCategory,
    SortCategory,
    SortExample,
    SortFiling,
    SortModel,
    SortMove,
    SortRule,
    SortSettings,
)


def _table(model: Any) -> Table:
    return model.__table__  # type: ignore[no-any-return]


BLOBS = _table(Blob)
MESSAGES = _table(Message)
ADDRESSES = _table(MessageAddress)
ATTACHMENTS = _table(AttachmentRow)
LOCATIONS = _table(Location)
THREADS = _table(Thread)
LINKS = _table(ThreadLink)
FOLDER_STATES = _table(FolderState)
MESSAGE_LINKS = _table(MessageLink)
MATCH_STATES = _table(MatchState)
BACKLOG = _table(PipelineBacklog)
SORT_CATEGORIES = _table(SortCategory)
SORT_RULES = _table(SortRule)
MESSAGE_CATEGORIES = _table(MessageCategory)
SORT_EXAMPLES = _table(SortExample)
SORT_MODELS = _table(SortModel)
SORT_FILINGS = _table(SortFiling)
SORT_MOVES = _table(SortMove)
SORT_SETTINGS = _table(SortSettings)
