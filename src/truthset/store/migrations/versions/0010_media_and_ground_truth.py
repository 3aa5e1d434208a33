"""media: the checked image behind each item; annotations.ground_truth: gold given as an annotation

The image route served whatever path an item's payload or text named, relative to its
import's folder: the server's secret key, its database and other projects' databases among
them. Images are now recorded when an import checks them (table ``media``) and only those
are served. Items imported before this revision have no row: ``truthset media rescan``
records them with the same checks (it needs the project folder and the files, which a
migration does not have; until then their image answers 404 and ``truthset serve`` says so).

Gold imported from Label Studio (``ground_truth: true``) is also an annotation; the flag moves
from the annotation's ``meta`` text to a column, so the queries non-admins reach can leave
those annotations out.

Revision ID: 0010
Revises: 0008
Create Date: 2026-11-23 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "media",
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("mime", sa.String(length=40), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["items.id"], name=op.f("fk_media_item_id_items")),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], name=op.f("fk_media_project_id_projects")),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_media")),
    )
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_media_project_id"), ["project_id"], unique=False)
    # a plain ADD COLUMN with a constant default: no table rebuild on SQLite, no rewrite on PostgreSQL
    op.add_column("annotations", sa.Column("ground_truth", sa.Boolean(), server_default=sa.false(), nullable=False))
    annotations = sa.table("annotations", sa.column("meta", sa.Text), sa.column("ground_truth", sa.Boolean))
    # the import writes meta as canonical JSON ("ground_truth":true); json.dumps spacing too
    op.execute(
        annotations.update()
        .where(
            sa.or_(annotations.c.meta.like('%"ground_truth":true%'), annotations.c.meta.like('%"ground_truth": true%'))
        )
        .values(ground_truth=sa.true())
    )


def downgrade() -> None:
    with op.batch_alter_table("annotations", schema=None) as batch_op:
        batch_op.drop_column("ground_truth")
    with op.batch_alter_table("media", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_media_project_id"))
    op.drop_table("media")
