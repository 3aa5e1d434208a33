"""items: (batch, full, queue_key) index for due dates

A batch with a due date is served first; the queue asks for that batch's open items in queue
order. The index replaces the plain batch_id index, which is its prefix.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 03:20:00
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_index("ix_items_batch_id")
        batch_op.create_index("ix_items_batch_queue", ["batch_id", "full", "queue_key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_index("ix_items_batch_queue")
        batch_op.create_index("ix_items_batch_id", ["batch_id"], unique=False)
