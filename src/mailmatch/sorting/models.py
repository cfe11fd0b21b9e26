"""Loading and saving a workspace's classifier, with a per-process cache by version.

Every save bumps ``sort_models.version``; a process reuses its loaded model while the version
in the database is the one it loaded, so a batch of mail costs one small SELECT, and a
correction made in another process (the web app, a worker elsewhere) is picked up by the next
batch here.
"""

from __future__ import annotations

import threading

from sqlalchemy import Connection, select, update

from mailmatch.sorting.classifier import Classifier
from mailmatch.store.sorting import SortModel
from mailmatch.store.tables import SORT_MODELS
from mailmatch.timeutil import now

_cache: dict[tuple[str, int], tuple[int, Classifier]] = {}
_lock = threading.Lock()


def _key(conn: Connection, workspace_id: int) -> tuple[str, int]:
    return (str(conn.engine.url), workspace_id)


def load_model(conn: Connection, workspace_id: int) -> tuple[int, Classifier] | None:
    """The workspace's model and its version, or None before its first example."""
    version = conn.execute(
        select(SortModel.version).where(SortModel.workspace_id == workspace_id)
    ).scalar()
    if version is None:
        return None
    key = _key(conn, workspace_id)
    with _lock:
        cached = _cache.get(key)
        if cached is not None and cached[0] == version:
            return cached
    data = conn.execute(
        select(SortModel.data).where(
            SortModel.workspace_id == workspace_id, SortModel.version == version
        )
    ).scalar()
    if data is None:  # replaced between the two reads: take the newer one next time
        return None
    model = Classifier.from_bytes(data)
    with _lock:
        _cache[key] = (version, model)
    return version, model


def save_model(conn: Connection, workspace_id: int, model: Classifier, previous: int | None) -> int:
    """Store ``model`` as the workspace's next version; inside the caller's transaction."""
    data = model.to_bytes()
    examples = sum(model.counts.values())
    stamp = now()
    if previous is None:
        exists = conn.execute(
            select(SortModel.version).where(SortModel.workspace_id == workspace_id)
        ).scalar()
        previous = exists
    if previous is None:
        version = 1
        conn.execute(
            SORT_MODELS.insert().values(
                workspace_id=workspace_id,
                version=version,
                classes=model.classes,
                examples=examples,
                data=data,
                updated_at=stamp,
            )
        )
    else:
        version = previous + 1
        conn.execute(
            update(SortModel)
            .where(SortModel.workspace_id == workspace_id)
            .values(
                version=version,
                classes=model.classes,
                examples=examples,
                data=data,
                updated_at=stamp,
            )
        )
    with _lock:
        _cache[_key(conn, workspace_id)] = (version, model)
    return version
