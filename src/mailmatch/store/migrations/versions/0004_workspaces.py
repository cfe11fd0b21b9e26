"""workspaces: every account, import, message and record belongs to one

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23

Existing rows all go to workspace 1, "default" (the columns' server default). Unique keys
become unique per workspace. Blobs stay global: they are content addressed, so the same bytes in
two workspaces are one blob and two message rows.

On SQLite every ``batch_alter_table`` below recreates its table (copy, drop, rename). That is
only safe with foreign keys off, or dropping ``accounts`` would cascade into ``locations`` and
``imports``: ``env.py`` turns them off around the migrations. Constraints that the earlier
revisions left unnamed are found under the names SQLite batch mode gives them through
``NAMING`` and under PostgreSQL's own default names.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Names for the constraints SQLite reflects without one (batch mode needs a name to drop).
NAMING = {"uq": "uq_%(table_name)s_%(column_0_name)s", "pk": "%(table_name)s_pkey"}

SCOPED = (
    "accounts",
    "imports",
    "threads",
    "messages",
    "thread_links",
    "companies",
    "company_domains",
    "contacts",
    "contact_emails",
    "deals",
    "ignore_rules",
    "webhooks",
)

#: table -> (the old unique constraint on PostgreSQL, on SQLite, the new one and its columns)
UNIQUES = {
    "accounts": ("accounts_name_key", "uq_accounts_name", "uq_accounts_workspace_name", ["name"]),
    "imports": ("imports_name_key", "uq_imports_name", "uq_imports_workspace_name", ["name"]),
    "messages": (
        "messages_sha256_key",
        "uq_messages_sha256",
        "uq_messages_workspace_sha256",
        ["sha256"],
    ),
    "companies": (
        "companies_name_key",
        "uq_companies_name",
        "uq_companies_workspace_name",
        ["name"],
    ),
    "ignore_rules": ("uq_ignore_rule", "uq_ignore_rule", "uq_ignore_rule", ["kind", "value"]),
}

#: table -> the key column that becomes (workspace_id, column)
PRIMARY_KEYS = {
    "thread_links": "message_id",
    "company_domains": "domain",
    "contact_emails": "email",
}

#: tables listed by workspace without a unique key that starts with workspace_id
INDEXED = ("contacts", "deals", "webhooks")


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    workspaces = op.create_table(
        "workspaces",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name", name="uq_workspaces_name"),
    )
    op.bulk_insert(workspaces, [{"id": 1, "name": "default", "created_at": datetime.now(UTC)}])
    if postgres:  # an explicit id does not move the sequence: the next workspace must get 2
        op.execute("SELECT setval(pg_get_serial_sequence('workspaces', 'id'), 1)")

    for table in SCOPED:
        with op.batch_alter_table(table, naming_convention=NAMING) as batch_op:
            batch_op.add_column(
                sa.Column("workspace_id", sa.Integer(), server_default=sa.text("1"), nullable=False)
            )
            batch_op.create_foreign_key(
                f"fk_{table}_workspace_id",
                "workspaces",
                ["workspace_id"],
                ["id"],
                ondelete="CASCADE",
            )
            if table in UNIQUES:
                pg_name, sqlite_name, new_name, columns = UNIQUES[table]
                batch_op.drop_constraint(pg_name if postgres else sqlite_name, type_="unique")
                batch_op.create_unique_constraint(new_name, ["workspace_id", *columns])
            if table in PRIMARY_KEYS:
                batch_op.drop_constraint(f"{table}_pkey", type_="primary")
                batch_op.create_primary_key(f"{table}_pkey", ["workspace_id", PRIMARY_KEYS[table]])
            if table in INDEXED:
                batch_op.create_index(f"ix_{table}_workspace_id", ["workspace_id"], unique=False)
            if table == "messages":
                # Listing a workspace's mail by date; the global date index has no use left.
                batch_op.drop_index("ix_messages_date")
                batch_op.create_index(
                    "ix_messages_workspace_date", ["workspace_id", "date"], unique=False
                )


def downgrade() -> None:
    """Back to one global store: possible only while there is nothing but the default
    workspace (rows of others would collide on the old unique keys)."""
    postgres = op.get_bind().dialect.name == "postgresql"
    others = op.get_bind().execute(sa.text("SELECT count(*) FROM workspaces WHERE id != 1"))
    if others.scalar():
        raise RuntimeError("cannot downgrade below 0004 while other workspaces exist")
    for table in reversed(SCOPED):
        with op.batch_alter_table(table, naming_convention=NAMING) as batch_op:
            if table == "messages":
                batch_op.drop_index("ix_messages_workspace_date")
                batch_op.create_index("ix_messages_date", ["date"], unique=False)
            if table in INDEXED:
                batch_op.drop_index(f"ix_{table}_workspace_id")
            if table in PRIMARY_KEYS:
                batch_op.drop_constraint(f"{table}_pkey", type_="primary")
                batch_op.create_primary_key(f"{table}_pkey", [PRIMARY_KEYS[table]])
            if table in UNIQUES:
                pg_name, sqlite_name, new_name, columns = UNIQUES[table]
                batch_op.drop_constraint(new_name, type_="unique")
                batch_op.create_unique_constraint(pg_name if postgres else sqlite_name, columns)
            batch_op.drop_constraint(f"fk_{table}_workspace_id", type_="foreignkey")
            batch_op.drop_column("workspace_id")
    op.drop_table("workspaces")
