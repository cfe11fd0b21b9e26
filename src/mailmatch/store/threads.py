"""Thread a batch of messages: linked Message-IDs first, then normalised subject + participants.

Threads never cross workspaces: every lookup and every row is scoped by the batch's workspace.

The whole batch is threaded with a fixed number of statements (a lookup of every Message-ID it
mentions, a lookup of its subjects, one insert of new threads, one upsert of links, one update
of counts), not a few per message: threading is on the import's hot path.

Within the batch, threads are joined with a union-find: a reply stored in the same batch as its
parent joins the parent's thread, and a message whose References name two existing threads
merges them into the oldest.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select, update

from mailmatch.ingest.models import ParsedMessage
from mailmatch.ingest.threading import normalize_subject, participants_key, thread_ids
from mailmatch.store.bulk import increment, insert_returning_ids, upsert
from mailmatch.store.models import DEFAULT_WORKSPACE_ID
from mailmatch.store.tables import LINKS, MESSAGES, THREADS


def _chunks(values: list[Any], size: int = 900) -> list[list[Any]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


class _Union:
    """Union-find over thread keys: positive ids exist, negative ids are new in this batch."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, key: int) -> int:
        root = key
        while self.parent.get(root, root) != root:
            root = self.parent[root]
        while key != root:  # path compression
            self.parent[key], key = root, self.parent.get(key, key)
        return root

    def join(self, a: int, b: int) -> int:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return ra
        # Prefer an existing thread (positive), the oldest (smallest) of two existing ones.
        keep, drop = (ra, rb) if _rank(ra) <= _rank(rb) else (rb, ra)
        self.parent[drop] = keep
        return keep


def _rank(key: int) -> tuple[int, int]:
    return (0, key) if key > 0 else (1, -key)


def assign_threads(
    conn: Connection, messages: list[ParsedMessage], workspace_id: int = DEFAULT_WORKSPACE_ID
) -> list[int]:
    """Thread ids for ``messages`` of ``workspace_id`` (in order), with threads and links
    written."""
    ids_of = [([p.message_id] if p.message_id else []) + thread_ids(p) for p in messages]
    all_ids = sorted({i for ids in ids_of for i in ids})
    links: dict[str, int] = {}
    for chunk in _chunks(all_ids):
        links.update(
            conn.execute(
                select(LINKS.c.message_id, LINKS.c.thread_id).where(
                    LINKS.c.workspace_id == workspace_id, LINKS.c.message_id.in_(chunk)
                )
            ).all()
        )
    known = dict(links)
    keys = [(normalize_subject(p.subject)[:500], participants_key(p)) for p in messages]
    by_subject: dict[tuple[str, str], int] = {}
    subjects = sorted({s for s, _ in keys if s})
    for chunk in _chunks(subjects):
        for tid, subject, people in conn.execute(
            select(THREADS.c.id, THREADS.c.subject_key, THREADS.c.participants_key)
            .where(THREADS.c.workspace_id == workspace_id, THREADS.c.subject_key.in_(chunk))
            .order_by(THREADS.c.id.desc())
        ):
            by_subject[(subject, people)] = tid  # the oldest wins (ids descending)

    union = _Union()
    new_keys: dict[int, tuple[str, str]] = {}
    chosen: list[int] = []
    for ids, key in zip(ids_of, keys, strict=True):
        found = [links[i] for i in ids if i in links]
        if found:
            tid = found[0]
            for other in found[1:]:
                tid = union.join(tid, other)
        elif key[0] and key in by_subject:
            tid = by_subject[key]
        else:
            tid = -(len(new_keys) + 1)
            new_keys[tid] = key
            if key[0]:
                by_subject[key] = tid
        tid = union.find(tid)
        for i in ids:
            if i in links and union.find(links[i]) != tid:
                tid = union.join(tid, links[i])
            links[i] = tid
        chosen.append(tid)

    # Create the new threads that survived merging, in one statement.
    real: dict[int, int] = {}
    roots = sorted({union.find(k) for k in new_keys if union.find(k) < 0}, reverse=True)
    if roots:
        rows = [
            {
                "workspace_id": workspace_id,
                "subject_key": new_keys[k][0],
                "participants_key": new_keys[k][1],
                "message_count": 0,
            }
            for k in roots
        ]
        real = dict(zip(roots, insert_returning_ids(conn, THREADS, rows), strict=True))

    def resolve(key: int) -> int:
        root = union.find(key)
        return real.get(root, root)

    result = [resolve(t) for t in chosen]
    counts: dict[int, int] = {}
    for tid in result:
        counts[tid] = counts.get(tid, 0) + 1
    merged = {k: resolve(k) for k in union.parent if k > 0 and resolve(k) != k}
    for old, into in merged.items():  # rare: a message joined two existing threads
        conn.execute(update(MESSAGES).where(MESSAGES.c.thread_id == old).values(thread_id=into))
        conn.execute(update(LINKS).where(LINKS.c.thread_id == old).values(thread_id=into))
        moved = conn.execute(select(THREADS.c.message_count).where(THREADS.c.id == old)).scalar()
        counts[into] = counts.get(into, 0) + int(moved or 0)
        conn.execute(update(THREADS).where(THREADS.c.id == old).values(message_count=0))

    # Only links that are new or now point elsewhere are written: on a re-import or a
    # reply to a known thread most of the batch's Message-IDs are already linked.
    resolved = ((m, resolve(t)) for m, t in links.items())
    changed = [(m, t) for m, t in resolved if known.get(m) != t]
    _write_links(conn, workspace_id, changed)
    _add_counts(conn, counts)
    return result


def _write_links(conn: Connection, workspace_id: int, links: list[tuple[str, int]]) -> None:
    """Upsert (Message-ID, thread) links: a Message-ID seen again may now point elsewhere."""
    upsert(
        conn,
        LINKS,
        ("workspace_id", "message_id", "thread_id"),
        ("workspace_id", "message_id"),
        [(workspace_id, m, t) for m, t in links],
    )


def _add_counts(conn: Connection, counts: dict[int, int]) -> None:
    """Add each batch's new messages to their threads' counts."""
    increment(conn, THREADS, "message_count", counts)
