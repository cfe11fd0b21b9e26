"""The lease of a job key in the database, so two runs of one key never overlap.

A key names what must not run twice at once (``import:42``, ``webhooks.deliver``). The lease
names its holder (host, pid, a random token) and expires; the holder renews it while it works.
A run killed with ``kill -9`` leaves its lease behind: on the same host a lease whose process is
gone is taken over at once, elsewhere it is taken over when it expires.
"""

from __future__ import annotations

import os
import secrets
import socket
from datetime import timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from mailmatch.errors import MailmatchError
from mailmatch.store.db import Database
from mailmatch.store.jobs import JobLease
from mailmatch.timeutil import aware, now

HOST = socket.gethostname()


class LeaseLost(MailmatchError):
    code = "already_running"


def new_owner() -> str:
    return f"{HOST}:{os.getpid()}:{secrets.token_hex(4)}"


def holder_is_gone(owner: str) -> bool:
    """True when ``owner`` is a process of this host that no longer exists."""
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


def live_holder(db: Database, key: str) -> str | None:
    """Who holds ``key`` right now (an unexpired lease of a living process), if anyone."""
    with db.read() as conn:
        row = conn.execute(
            select(JobLease.owner, JobLease.until).where(JobLease.key == key)
        ).first()
    if row is None:
        return None
    until = aware(row.until)
    if until is None or until <= now() or holder_is_gone(row.owner):
        return None
    return str(row.owner)


class KeyLease:
    def __init__(
        self, db: Database, key: str, seconds: float = 300, owner: str | None = None
    ) -> None:
        self.db = db
        self.key = key
        self.seconds = seconds
        self.owner = owner or new_owner()

    def acquire(self) -> str | None:
        """Take the lease; returns None, or the current holder when it is busy."""
        until = now() + timedelta(seconds=self.seconds)
        try:
            with self.db.engine.begin() as conn:
                row = conn.execute(
                    select(JobLease.owner, JobLease.until).where(JobLease.key == self.key)
                ).first()
                if row is None:
                    conn.execute(
                        insert(JobLease).values(key=self.key, owner=self.owner, until=until)
                    )
                    return None
                holder, held_until = row.owner, aware(row.until)
                if held_until and held_until > now() and not holder_is_gone(holder):
                    return str(holder)
                taken = conn.execute(
                    update(JobLease)
                    .where(JobLease.key == self.key, JobLease.owner == holder)
                    .values(owner=self.owner, until=until)
                )
                return None if taken.rowcount == 1 else "another run"
        except IntegrityError:  # PostgreSQL: another process inserted the key first
            return "another run"

    def renew(self) -> None:
        """Extend the lease; raise :class:`LeaseLost` if another run has taken it over."""
        with self.db.engine.begin() as conn:
            kept = conn.execute(
                update(JobLease)
                .where(JobLease.key == self.key, JobLease.owner == self.owner)
                .values(until=now() + timedelta(seconds=self.seconds))
            )
        if kept.rowcount != 1:
            raise LeaseLost(f"another run took over {self.key}; this one stops")

    def release(self) -> None:
        with self.db.engine.begin() as conn:
            conn.execute(
                delete(JobLease).where(JobLease.key == self.key, JobLease.owner == self.owner)
            )
