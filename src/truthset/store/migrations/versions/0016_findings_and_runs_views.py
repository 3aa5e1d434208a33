"""analysts' views over the data checks' findings and the training runs

``v_findings`` now shows the findings of ``truthset check`` (one row per finding and item,
with check, severity and verdict); the import findings it showed before are ``v_import_findings``.
``v_runs`` gains the schema and code versions a training run records. No table changes: the
views of :mod:`truthset.store.views` are created again, so a database already at 0015 gets them.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 12:10:00
"""

from __future__ import annotations

from alembic import op

from truthset.store.views import create_views

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_views(op.get_bind())


def downgrade() -> None:
    # the views read only tables and columns that exist at 0015 (findings 0012, runs 0013), so
    # they stay; 0015's own downgrade drops them
    create_views(op.get_bind())
