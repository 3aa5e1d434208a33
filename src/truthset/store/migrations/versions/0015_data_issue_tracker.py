"""data issue tracker (history, links, body, source, dedup fingerprint) and analysts' views

``data_issues`` gains a body, where it came from (``source``), a ``fingerprint`` naming what
raised an automatic issue (so raising it again updates it), the schema version when it was
opened, and ``updated_at``; ``data_issue_events`` holds its history and ``data_issue_links``
what it is about (items, schema versions, guide sections, findings). The read-only views of
:mod:`truthset.store.views` are created for ``truthset sql``, Datasette and Metabase.

Revision ID: 0015
Revises: 0011
Create Date: 2026-12-02 11:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from truthset.store.views import create_views, drop_views

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    drop_views(bind)
    with op.batch_alter_table("data_issues", schema=None) as batch_op:
        batch_op.add_column(sa.Column("body", sa.Text(), server_default="", nullable=False))
        batch_op.add_column(sa.Column("source", sa.String(length=20), server_default="manual", nullable=False))
        batch_op.add_column(sa.Column("fingerprint", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("schema_version", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_data_issues_fingerprint", ["project_id", "fingerprint"], unique=False)
    # issues a skip in the annotation queue raised before the tracker existed
    op.execute("UPDATE data_issues SET source = 'skip' WHERE kind LIKE 'skip:%'")

    op.create_table(
        "data_issue_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issue_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("event", sa.String(length=20), nullable=False),
        sa.Column("from_status", sa.String(length=20), nullable=True),
        sa.Column("to_status", sa.String(length=20), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["author_id"], ["users.id"], name=op.f("fk_data_issue_events_author_id_users")),
        sa.ForeignKeyConstraint(
            ["issue_id"], ["data_issues.id"], name=op.f("fk_data_issue_events_issue_id_data_issues")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_issue_events")),
    )
    with op.batch_alter_table("data_issue_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_data_issue_events_issue_id"), ["issue_id"], unique=False)

    op.create_table(
        "data_issue_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issue_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["issue_id"], ["data_issues.id"], name=op.f("fk_data_issue_links_issue_id_data_issues")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_issue_links")),
        sa.UniqueConstraint("issue_id", "kind", "target", name="uq_data_issue_links_target"),
    )
    with op.batch_alter_table("data_issue_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_data_issue_links_issue_id"), ["issue_id"], unique=False)
    create_views(bind)


def downgrade() -> None:
    drop_views(op.get_bind())
    with op.batch_alter_table("data_issue_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_data_issue_links_issue_id"))
    op.drop_table("data_issue_links")
    with op.batch_alter_table("data_issue_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_data_issue_events_issue_id"))
    op.drop_table("data_issue_events")
    with op.batch_alter_table("data_issues", schema=None) as batch_op:
        batch_op.drop_index("ix_data_issues_fingerprint")
        batch_op.drop_column("updated_at")
        batch_op.drop_column("schema_version")
        batch_op.drop_column("fingerprint")
        batch_op.drop_column("source")
        batch_op.drop_column("body")
