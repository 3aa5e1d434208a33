"""users: a status (active, disabled, removed) and a session generation

A session cookie carries the generation its user had at login; logging out, a new password,
a new role, disabling or removing the user add one to it, and every request compares the two
(on the account the server looks up anyway), so those events end every session of that user.
A disabled or removed user can neither log in nor use an API token; a removed one keeps
their annotations, attributed to their name, and the name cannot be given to anyone else.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status", sa.String(length=20), nullable=False, server_default="active"))
        batch_op.add_column(sa.Column("session_gen", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("session_gen")
        batch_op.drop_column("status")
