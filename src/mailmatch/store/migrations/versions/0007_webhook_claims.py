"""webhook_deliveries: a claim lease, and whether the last attempt went to an internal host

Revision ID: 0007
Revises: 0006

Two schedulers on one home (``serve`` and ``worker``) both saw every due delivery and both
POSTed it. A scheduler now claims a delivery (``claimed_until``, a lease that a crashed
scheduler's claim outlives only briefly) with a conditional UPDATE before sending it, so one
delivery is sent by one scheduler. ``internal_target`` marks an attempt that went to an
allow-listed internal address: its answer is shown to administrators only.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.add_column(sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("internal_target", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_column("internal_target")
        batch.drop_column("claimed_until")
