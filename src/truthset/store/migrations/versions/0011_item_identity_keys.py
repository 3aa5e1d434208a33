"""items: find an item by its external id, and by a 64-bit content key instead of the hex hash

An external id identifies an item: a re-import of the same ids (with other options) finds the
items by ``(project_id, external_id)`` instead of adding them again (a partial index: rows
without an id cost nothing). The unique index on the 64-character content hash was the last
random-order text index an import wrote into; ``content_key`` (the hash's first 64 bits as
a signed integer) carries the look-up in an index a third of the size. It is not unique: the
import compares the full hash, and serialises imports into one project.

Revision ID: 0011
Revises: 0008
Create Date: 2026-12-02 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

HAS_ID = sa.text("external_id IS NOT NULL")


def _key(content_hash: str) -> int:
    """The hash's first 8 bytes as a big-endian signed 64-bit integer (as PostgreSQL's cast)."""
    return int.from_bytes(bytes.fromhex(content_hash[:16]), "big", signed=True)


def upgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("content_key", sa.BigInteger(), server_default="0", nullable=False))
    if bind.dialect.name == "postgresql":
        op.execute("UPDATE items SET content_key = ('x' || substr(content_hash, 1, 16))::bit(64)::bigint")
    else:
        rows = bind.execute(sa.text("SELECT id, content_hash FROM items")).fetchall()
        if rows:
            bind.execute(
                sa.text("UPDATE items SET content_key = :k WHERE id = :i"), [{"k": _key(h), "i": i} for i, h in rows]
            )
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_constraint("uq_items_project_id", type_="unique")
        batch_op.create_index("ix_items_content_key", ["project_id", "content_key"], unique=False)
        batch_op.create_index(
            "ix_items_external_id",
            ["project_id", "external_id"],
            unique=False,
            postgresql_where=HAS_ID,
            sqlite_where=HAS_ID,
        )


def downgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_index("ix_items_external_id", postgresql_where=HAS_ID, sqlite_where=HAS_ID)
        batch_op.drop_index("ix_items_content_key")
        batch_op.create_unique_constraint("uq_items_project_id", ["project_id", "content_hash"])
        batch_op.drop_column("content_key")
