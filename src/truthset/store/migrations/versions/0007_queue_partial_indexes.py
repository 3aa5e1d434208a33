"""Partial indexes for the queue: open assignments, model pre-labels

ix_assignments_queue (project, stage, status, leased_until) held every assignment ever made.
PostgreSQL's plans took it for the annotator's "done" count, filtering by user: each task
walked all done assignments of the project (1,960 rows at 2,000 annotations, growing). It
becomes ix_assignments_open, which holds only leased and pending assignments: as small as the
work in hand, and a submit removes a row from it instead of adding one.

The queue also reads an item's latest pre-label (``source = 'model' ... ORDER BY id DESC
LIMIT 1``) with every task; with only (item_id, user_id) to go by, plans walked the primary key
backwards. ix_annotations_prelabel holds model annotations only, so storing a human annotation
never writes to it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 05:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

OPEN = sa.text("status = 'leased' OR status = 'pending'")
MODEL = sa.text("source = 'model'")


def upgrade() -> None:
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_index("ix_assignments_queue")
        batch_op.create_index(
            "ix_assignments_open",
            ["project_id", "stage", "status", "leased_until"],
            unique=False,
            postgresql_where=OPEN,
            sqlite_where=OPEN,
        )
    with op.batch_alter_table("annotations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_annotations_prelabel", ["item_id", "id"], unique=False, postgresql_where=MODEL, sqlite_where=MODEL
        )


def downgrade() -> None:
    with op.batch_alter_table("annotations", schema=None) as batch_op:
        batch_op.drop_index("ix_annotations_prelabel", postgresql_where=MODEL, sqlite_where=MODEL)
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_index("ix_assignments_open", postgresql_where=OPEN, sqlite_where=OPEN)
        batch_op.create_index("ix_assignments_queue", ["project_id", "stage", "status", "leased_until"], unique=False)
