"""Which rows hold vault tokens, and which keys made them.

Every table with a vault token keeps it in ``secret`` with the id of the key that made it in
``key_id``. The vault asks this module before it makes a key (a new key must never be made
while secrets exist that only a lost key opens), and key rotation re-encrypts these rows.
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from mailmatch.store.db import Database
from mailmatch.store.models import Account
from mailmatch.store.records import Webhook

#: Every model whose ``secret`` column is a vault token, with its ``key_id``.
ENCRYPTED: tuple[type[Account] | type[Webhook], ...] = (Account, Webhook)


def stored_key_ids(db: Database) -> Counter[str]:
    """How many stored secrets each key id made, over every workspace (the keys are the data
    home's, not a workspace's)."""
    counts: Counter[str] = Counter()
    with db.read() as conn:
        for model in ENCRYPTED:
            # A database not migrated yet holds no secrets; any other error is not "none".
            if not inspect(conn).has_table(model.__tablename__):
                continue
            query = select(model.key_id, func.count()).group_by(model.key_id)
            for kid, count in conn.execute(query):
                counts[str(kid)] += int(count)
    return counts


def encrypted_rows(session: Session) -> list[Account | Webhook]:
    """Every row holding a vault token, in every workspace (for re-encrypting them all)."""
    return [*session.scalars(select(Account)), *session.scalars(select(Webhook))]
