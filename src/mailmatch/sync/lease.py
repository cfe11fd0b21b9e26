"""The lease of one import: the generic lease of the job key ``import:<id>``.

Two runs of one import never overlap, whoever starts them (the scheduler's job, the web's
"Start Import Manually", ``mailmatch imports run``): see :mod:`mailmatch.jobs.lease`.
"""

from __future__ import annotations

from mailmatch.jobs.lease import KeyLease, LeaseLost
from mailmatch.store.db import Database

__all__ = ["Lease", "LeaseLost", "import_key"]


def import_key(import_id: int) -> str:
    """The job key of an import: its runs, its lease."""
    return f"import:{import_id}"


class Lease(KeyLease):
    def __init__(self, db: Database, import_id: int, seconds: float = 300) -> None:
        super().__init__(db, import_key(import_id), seconds)
        self.import_id = import_id
