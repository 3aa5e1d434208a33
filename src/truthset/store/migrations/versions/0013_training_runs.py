"""runs: what a training run needs to be reproduced; run_predictions: its predictions per item

A training run (``truthset train``) records, beside the config, seed and dataset hash the
table already had, the schema version, the code version, the library versions and the split
(item ids per side), so the same command with the same seed can be checked to give the same
numbers. Its predictions on the test (and validation) items go to ``run_predictions``, so
``truthset compare`` and ``truthset errors`` work from the stored run without retraining.

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-02 11:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("schema_version", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("code_version", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("library_versions", sa.Text(), server_default="{}", nullable=False))
        batch_op.add_column(sa.Column("split", sa.Text(), server_default="{}", nullable=False))
    op.create_table(
        "run_predictions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("side", sa.String(length=10), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("pred", sa.Text(), nullable=False),
        sa.Column("proba", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name=op.f("fk_run_predictions_item_id_items")),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_run_predictions_run_id_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_predictions")),
        sa.UniqueConstraint("run_id", "item_id", name=op.f("uq_run_predictions_run_id")),
    )


def downgrade() -> None:
    op.drop_table("run_predictions")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_column("split")
        batch_op.drop_column("library_versions")
        batch_op.drop_column("code_version")
        batch_op.drop_column("schema_version")
