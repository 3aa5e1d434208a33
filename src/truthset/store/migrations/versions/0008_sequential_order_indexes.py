"""items: partial indexes of open items by id, for the "sequential" queue order

In sequential order a claim takes the first open item by id. With only (project_id, id) to
go by it stepped over every full item before the first open one: a scan that grows with
the work done (tens of thousands of rows per claim once 10^5 items are full), and within a
batch with a due date it sorted all the batch's open items for every claim. These indexes
hold open items only (``full`` is false), so the first entry is the answer.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22 05:55:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

PG_OPEN = sa.text('"full" IS false')
SQLITE_OPEN = sa.text('"full" IS 0')


def upgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.create_index(
            "ix_items_open_by_id",
            ["project_id", "id"],
            unique=False,
            postgresql_where=PG_OPEN,
            sqlite_where=SQLITE_OPEN,
        )
        batch_op.create_index(
            "ix_items_batch_open_by_id",
            ["batch_id", "id"],
            unique=False,
            postgresql_where=PG_OPEN,
            sqlite_where=SQLITE_OPEN,
        )


def downgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_index("ix_items_batch_open_by_id", postgresql_where=PG_OPEN, sqlite_where=SQLITE_OPEN)
        batch_op.drop_index("ix_items_open_by_id", postgresql_where=PG_OPEN, sqlite_where=SQLITE_OPEN)
