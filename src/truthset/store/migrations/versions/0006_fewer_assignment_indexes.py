"""assignments: two indexes fewer

Each annotation inserts an assignment and changes another's status, so every index of the
table is written per annotation. ix_assignments_item_id repeated the first column of
uq_assignments_item_user_stage; ix_assignments_lease (status, leased_until) served only the
expired-lease sweep, which also filters by project and stage: leased_until now ends
ix_assignments_queue instead.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 03:25:00
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_index("ix_assignments_item_id")
        batch_op.drop_index("ix_assignments_lease")
        batch_op.drop_index("ix_assignments_queue")
        batch_op.create_index("ix_assignments_queue", ["project_id", "stage", "status", "leased_until"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_index("ix_assignments_queue")
        batch_op.create_index("ix_assignments_queue", ["project_id", "stage", "status"], unique=False)
        batch_op.create_index("ix_assignments_lease", ["status", "leased_until"], unique=False)
        batch_op.create_index("ix_assignments_item_id", ["item_id"], unique=False)
