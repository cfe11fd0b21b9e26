"""messages: an index on (workspace_id, created_at), the dashboard's "processed" axis

Revision ID: 0008
Revises: 0007

The dashboard counts messages by the day mailmatch stored and matched them (``created_at``)
unless asked for the message date; its chart and its "all" range read a workspace's messages in
``created_at`` order, which without this index is a scan of the whole table.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_messages_workspace_created", "messages", ["workspace_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_messages_workspace_created", "messages")
