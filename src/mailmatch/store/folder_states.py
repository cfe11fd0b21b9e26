"""Where each IMAP folder's sync stands, and which of its UIDs the store holds.

The sync engine (:mod:`mailmatch.sync.engine`) decides what to fetch; this module is the SQL
behind those decisions: the folder's checkpoint (UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ, EXISTS,
``last_uid``), saved in the same transaction as each batch; the locations (account, folder,
UIDVALIDITY, UID -> message) it reads, re-maps after a UIDVALIDITY change and prunes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.sql import ColumnElement

from mailmatch.store.bulk import insert_ignore
from mailmatch.store.db import Database, lock_store
from mailmatch.store.models import utcnow
from mailmatch.store.tables import FOLDER_STATES, LOCATIONS, MESSAGES


class FolderStates:
    """The folders of one account: their checkpoints and their stored UIDs."""

    def __init__(self, db: Database, account_id: int) -> None:
        self.db = db
        self.account_id = account_id

    def _key(self, folder: str) -> tuple[ColumnElement[bool], ...]:
        return (FOLDER_STATES.c.account_id == self.account_id, FOLDER_STATES.c.folder == folder)

    # -- the checkpoint ---------------------------------------------------------------------

    def load(self, folder: str) -> Any:
        """The folder's saved state (a row with the ``folder_states`` columns), or None."""
        with self.db.read() as conn:
            return conn.execute(select(FOLDER_STATES).where(*self._key(folder))).first()

    def save(self, conn: Connection, folder: str, **values: Any) -> None:
        """Write ``values`` into the folder's state in ``conn``'s transaction (a batch's
        checkpoint commits with the batch), creating the state on the first save."""
        values["updated_at"] = utcnow()
        exists = conn.execute(select(FOLDER_STATES.c.folder).where(*self._key(folder))).first()
        if exists:
            conn.execute(update(FOLDER_STATES).where(*self._key(folder)).values(**values))
        else:
            conn.execute(
                FOLDER_STATES.insert().values(account_id=self.account_id, folder=folder, **values)
            )

    def finish(self, folder: str, uidvalidity: int, *, forget_old: bool, **values: Any) -> None:
        """Save the state at the end of a run; with ``forget_old``, also drop the folder's
        locations under any other UIDVALIDITY (what a reset, or an earlier run's unfinished
        reset, left behind)."""
        with self.db.engine.begin() as conn:
            lock_store(conn)
            if forget_old:
                conn.execute(
                    delete(LOCATIONS).where(
                        LOCATIONS.c.account_id == self.account_id,
                        LOCATIONS.c.folder == folder,
                        LOCATIONS.c.uidvalidity != uidvalidity,
                    )
                )
            self.save(conn, folder, uidvalidity=uidvalidity, **values)

    # -- locations --------------------------------------------------------------------------

    def known_uids(self, folder: str, uidvalidity: int) -> set[int]:
        """The folder's UIDs under ``uidvalidity`` that the store has a message for."""
        with self.db.read() as conn:
            rows = conn.execute(
                select(LOCATIONS.c.uid).where(
                    LOCATIONS.c.account_id == self.account_id,
                    LOCATIONS.c.folder == folder,
                    LOCATIONS.c.uidvalidity == uidvalidity,
                )
            )
            return {r[0] for r in rows}

    def previous(
        self, folder: str, uidvalidity: int, keys: Iterable[tuple[str, int]]
    ) -> dict[tuple[str, int], int]:
        """Stored messages that this folder held under its previous UIDVALIDITY, by
        (Message-ID, size); keys that name two different messages are left out.

        Only this folder's old locations count: matching a copy stored from elsewhere could
        map a different message with the same Message-ID and size onto this UID.
        """
        keys = list(keys)
        found: dict[tuple[str, int], int] = {}
        ambiguous: set[tuple[str, int]] = set()
        with self.db.read() as conn:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                rows = conn.execute(
                    select(MESSAGES.c.message_id, MESSAGES.c.size, MESSAGES.c.id)
                    .join(LOCATIONS, LOCATIONS.c.message_pk == MESSAGES.c.id)
                    .where(
                        MESSAGES.c.message_id.in_([mid for mid, _ in chunk]),
                        LOCATIONS.c.account_id == self.account_id,
                        LOCATIONS.c.folder == folder,
                        LOCATIONS.c.uidvalidity != uidvalidity,
                    )
                )
                wanted = set(chunk)
                for mid, size, pk in rows:
                    key = (mid, size)
                    if key in wanted:
                        if key in found and found[key] != pk:
                            ambiguous.add(key)
                        found[key] = pk
        return {k: v for k, v in found.items() if k not in ambiguous}

    def remap(self, folder: str, uidvalidity: int, message_of: dict[int, int]) -> None:
        """Record that UID ``u`` (under the new ``uidvalidity``) holds message ``message_of[u]``."""
        if not message_of:
            return
        rows = [
            {
                "account_id": self.account_id,
                "folder": folder,
                "uidvalidity": uidvalidity,
                "uid": uid,
                "message_pk": pk,
            }
            for uid, pk in message_of.items()
        ]
        with self.db.engine.begin() as conn:
            lock_store(conn)
            conn.execute(insert_ignore(conn, LOCATIONS), rows)

    def forget(self, folder: str, uidvalidity: int, uids: Iterable[int]) -> None:
        """Drop the locations of ``uids`` (no longer in the folder); the messages stay."""
        stale = sorted(uids)
        if not stale:
            return
        with self.db.engine.begin() as conn:
            lock_store(conn)
            for start in range(0, len(stale), 500):
                chunk = stale[start : start + 500]
                conn.execute(
                    delete(LOCATIONS).where(
                        LOCATIONS.c.account_id == self.account_id,
                        LOCATIONS.c.folder == folder,
                        LOCATIONS.c.uidvalidity == uidvalidity,
                        LOCATIONS.c.uid.in_(chunk),
                    )
                )
