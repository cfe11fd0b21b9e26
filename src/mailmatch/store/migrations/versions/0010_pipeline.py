"""pipeline_backlog: what the after-store pipeline steps have not handled yet

Revision ID: 0010
Revises: 0009

Matching and webhooks ran as a hand-wired callback after each stored batch, and a run killed
in between was repaired by a scan of every message without a match state. Each stored batch
now leaves one row here, in the batch's own transaction, until every step has run on it.

Messages stored before this revision without a match state (a run killed after storing) get
one row per workspace, so the first run after the upgrade matches them as the scan did.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pipeline_backlog",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "workspace_id",
            sa.Integer(),
            sa.ForeignKey("workspaces.id", ondelete="CASCADE"),
            server_default=sa.text("1"),
            nullable=False,
        ),
        sa.Column("message_pks", sa.JSON(), nullable=False),
        sa.Column("next_step", sa.String(64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("owner", sa.String(200), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_pipeline_backlog_workspace_id", "pipeline_backlog", ["workspace_id"])
    _backfill_unmatched()


def _backfill_unmatched() -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.text(
            "SELECT m.workspace_id, m.id FROM messages m "
            "LEFT JOIN match_states s ON s.message_pk = m.id "
            "WHERE s.message_pk IS NULL ORDER BY m.id"
        )
    ).all()
    by_workspace: dict[int, list[int]] = {}
    for workspace_id, pk in rows:
        by_workspace.setdefault(int(workspace_id), []).append(int(pk))
    if not by_workspace:
        return
    backlog = sa.table(
        "pipeline_backlog",
        sa.column("workspace_id", sa.Integer()),
        sa.column("message_pks", sa.JSON()),
        sa.column("next_step", sa.String()),
        sa.column("attempts", sa.Integer()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    stamp = sa.func.now() if conn.dialect.name == "postgresql" else sa.func.current_timestamp()
    for workspace_id, pks in by_workspace.items():
        conn.execute(
            backlog.insert().values(
                workspace_id=workspace_id,
                message_pks=pks,
                next_step="match",
                attempts=0,
                created_at=stamp,
                updated_at=stamp,
            )
        )


def downgrade() -> None:
    op.drop_index("ix_pipeline_backlog_workspace_id", "pipeline_backlog")
    op.drop_table("pipeline_backlog")
