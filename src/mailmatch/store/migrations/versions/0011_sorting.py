"""sorting: categories, rules, message categories, examples, the classifier, filing

Revision ID: 0011
Revises: 0010

Sorting gives every message at most one category, with its source and reason, and learns
from corrections. ``messages.headers`` keeps the header fields sorting reads (mail stored
earlier has NULL there and is read again from its raw bytes the first time it is sorted).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _workspace(primary_key: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        "workspace_id",
        sa.Integer(),
        sa.ForeignKey("workspaces.id", ondelete="CASCADE"),
        server_default=sa.text("1"),
        nullable=False,
        primary_key=primary_key,
    )


def _stamp(name: str = "created_at", nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("headers", sa.JSON(), nullable=True))
    op.create_table(
        "sort_settings",
        _workspace(primary_key=True),
        sa.Column("threshold", sa.Float(), nullable=False),
        _stamp(),
    )
    op.create_table(
        "sort_categories",
        sa.Column("id", sa.Integer(), primary_key=True),
        _workspace(),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        _stamp(),
        sa.UniqueConstraint("workspace_id", "name", name="uq_sort_categories_name"),
    )
    op.create_table(
        "sort_rules",
        sa.Column("id", sa.Integer(), primary_key=True),
        _workspace(),
        sa.Column(
            "category_id",
            sa.Integer(),
            sa.ForeignKey("sort_categories.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        _stamp(),
    )
    op.create_index("ix_sort_rules_workspace_id", "sort_rules", ["workspace_id"])
    op.create_table(
        "message_categories",
        sa.Column(
            "message_pk",
            sa.Integer(),
            sa.ForeignKey("messages.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        _workspace(),
        sa.Column(
            "category_id",
            sa.Integer(),
            sa.ForeignKey("sort_categories.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("source", sa.String(16), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("rule_id", sa.Integer(), nullable=True),
        sa.Column("guess_id", sa.Integer(), nullable=True),
        _stamp("sorted_at"),
    )
    op.create_index(
        "ix_message_categories_workspace_category",
        "message_categories",
        ["workspace_id", "category_id"],
    )
    op.create_index(
        "ix_message_categories_workspace_state", "message_categories", ["workspace_id", "state"]
    )
    op.create_table(
        "sort_examples",
        sa.Column("id", sa.Integer(), primary_key=True),
        _workspace(),
        sa.Column(
            "message_pk",
            sa.Integer(),
            sa.ForeignKey("messages.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "category_id",
            sa.Integer(),
            sa.ForeignKey("sort_categories.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("model_guess", sa.Integer(), nullable=True),
        sa.Column("previous_source", sa.String(16), nullable=True),
        _stamp(),
        sa.UniqueConstraint("workspace_id", "message_pk", name="uq_sort_examples"),
    )
    op.create_table(
        "sort_models",
        _workspace(primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("classes", sa.JSON(), nullable=False),
        sa.Column("examples", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        _stamp("updated_at"),
    )
    op.create_table(
        "sort_filings",
        sa.Column("id", sa.Integer(), primary_key=True),
        _workspace(),
        sa.Column(
            "import_id",
            sa.Integer(),
            sa.ForeignKey("imports.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "category_id",
            sa.Integer(),
            sa.ForeignKey("sort_categories.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("folder", sa.String(500), nullable=False),
        _stamp(),
        sa.UniqueConstraint("import_id", "category_id", name="uq_sort_filings"),
    )
    op.create_table(
        "sort_moves",
        sa.Column("id", sa.Integer(), primary_key=True),
        _workspace(),
        sa.Column(
            "message_pk",
            sa.Integer(),
            sa.ForeignKey("messages.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "account_id",
            sa.Integer(),
            sa.ForeignKey("accounts.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("import_id", sa.Integer(), nullable=True),
        sa.Column("from_folder", sa.String(500), nullable=False),
        sa.Column("from_uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("from_uid", sa.BigInteger(), nullable=False),
        sa.Column("to_folder", sa.String(500), nullable=False),
        sa.Column("to_uidvalidity", sa.BigInteger(), nullable=True),
        sa.Column("to_uid", sa.BigInteger(), nullable=True),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        _stamp(),
        _stamp("undone_at", nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
    )
    op.create_index("ix_sort_moves_workspace_id", "sort_moves", ["workspace_id"])


def downgrade() -> None:
    for table in (
        "sort_moves",
        "sort_filings",
        "sort_models",
        "sort_examples",
        "message_categories",
        "sort_rules",
        "sort_categories",
        "sort_settings",
    ):
        op.drop_table(table)
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("headers")
