"""A lease per import in the database, so two runs of one import never overlap.

The lease names its holder (host, pid, a random token) and expires; the holder renews it after
every batch. A run killed with ``kill -9`` leaves its lease behind: on the same host a lease
whose process is gone is taken over at once, elsewhere it is taken over when it expires.
"""

from __future__ import annotations

import os
import secrets
import socket
from datetime import timedelta

from sqlalchemy import or_, select, update

from mailmatch.errors import MailmatchError
from mailmatch.store.db import Database
from mailmatch.store.models import Import
from mailmatch.timeutil import aware, now

HOST = socket.gethostname()


class LeaseLost(MailmatchError):
    code = "already_running"


def new_owner() -> str:
    return f"{HOST}:{os.getpid()}:{secrets.token_hex(4)}"


def _holder_is_gone(owner: str) -> bool:
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != HOST or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class Lease:
    def __init__(self, db: Database, import_id: int, seconds: float = 300) -> None:
        self.db = db
        self.import_id = import_id
        self.seconds = seconds
        self.owner = new_owner()

    def acquire(self) -> str | None:
        """Take the lease; returns None, or the current holder when it is busy."""
        with self.db.engine.begin() as conn:
            row = conn.execute(
                select(Import.lease_owner, Import.lease_until).where(Import.id == self.import_id)
            ).one()
            holder, until = row.lease_owner, aware(row.lease_until)
            if holder and until and until > now() and not _holder_is_gone(holder):
                return str(holder)
            taken = conn.execute(
                update(Import)
                .where(
                    Import.id == self.import_id,
                    or_(Import.lease_owner.is_(None), Import.lease_owner == holder),
                )
                .values(lease_owner=self.owner, lease_until=now() + timedelta(seconds=self.seconds))
            )
            return None if taken.rowcount == 1 else "another run"

    def renew(self) -> None:
        """Extend the lease; raise :class:`LeaseLost` if another run has taken it over."""
        with self.db.engine.begin() as conn:
            kept = conn.execute(
                update(Import)
                .where(Import.id == self.import_id, Import.lease_owner == self.owner)
                .values(lease_until=now() + timedelta(seconds=self.seconds))
            )
        if kept.rowcount != 1:
            raise LeaseLost("another run took over this import; this one stops")

    def release(self) -> None:
        with self.db.engine.begin() as conn:
            conn.execute(
                update(Import)
                .where(Import.id == self.import_id, Import.lease_owner == self.owner)
                .values(lease_owner=None, lease_until=None)
            )
