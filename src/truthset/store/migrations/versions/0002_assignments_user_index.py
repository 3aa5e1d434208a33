"""assignments: (user, project, stage, status) index

The annotation queue asks, per request, for the lease a user holds and how many items they
have done in this project. With the project in the index both are answered from the index
alone instead of one table look-up per assignment the user ever had.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 02:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_index("ix_assignments_user")
        batch_op.create_index("ix_assignments_user", ["user_id", "project_id", "stage", "status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_index("ix_assignments_user")
        batch_op.create_index("ix_assignments_user", ["user_id", "stage", "status"], unique=False)
