"""items: queue indexes end with id, the tie-break of the queue order

The queue orders open items by (queue_key, id). Without id in the index PostgreSQL sorts
them in groups of at least 32 rows before it can return the first one (an incremental sort),
on every claim. SQLite's indexes end with the rowid already; there this changes nothing.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 02:50:00
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_index("ix_items_queue")
        batch_op.create_index("ix_items_queue", ["project_id", "full", "queue_key", "id"], unique=False)
        batch_op.drop_index("ix_items_batch_queue")
        batch_op.create_index("ix_items_batch_queue", ["batch_id", "full", "queue_key", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_index("ix_items_batch_queue")
        batch_op.create_index("ix_items_batch_queue", ["batch_id", "full", "queue_key"], unique=False)
        batch_op.drop_index("ix_items_queue")
        batch_op.create_index("ix_items_queue", ["project_id", "full", "queue_key"], unique=False)
