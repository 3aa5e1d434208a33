"""findings: what the data checks found, the items each concerns, and the reviewer's verdict

``truthset check`` runs validation rules, duplicate, leakage, label-error and outlier checks;
each writes findings (check, version, kind, severity, a score) with their items in
``finding_items``. A reviewer's verdict (the label was wrong / right / ambiguous) is kept on
the finding, so ``truthset check --precision`` can say how often each check is right.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 11:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("check", sa.String(length=80), nullable=False),
        sa.Column("check_version", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("severity", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verdict", sa.String(length=20), nullable=True),
        sa.Column("verdict_by", sa.Integer(), nullable=True),
        sa.Column("verdict_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], name=op.f("fk_findings_project_id_projects")),
        sa.ForeignKeyConstraint(["verdict_by"], ["users.id"], name=op.f("fk_findings_verdict_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_findings")),
    )
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.create_index("ix_findings_project_check", ["project_id", "check", "check_version"], unique=False)
    op.create_table(
        "finding_items",
        sa.Column("finding_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["finding_id"], ["findings.id"], name=op.f("fk_finding_items_finding_id_findings")),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name=op.f("fk_finding_items_item_id_items")),
        sa.PrimaryKeyConstraint("finding_id", "item_id", name=op.f("pk_finding_items")),
    )
    with op.batch_alter_table("finding_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_finding_items_item_id"), ["item_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("finding_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_finding_items_item_id"))
    op.drop_table("finding_items")
    with op.batch_alter_table("findings", schema=None) as batch_op:
        batch_op.drop_index("ix_findings_project_check")
    op.drop_table("findings")
