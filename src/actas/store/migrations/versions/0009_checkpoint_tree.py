"""Merkle tree checkpoints: C2SP signed notes with a root and a consistency proof, tree tiles.

``audit_checkpoints`` gains the tree root, the signed note and the consistency proof from the
checkpoint before it (concatenated 32-byte hashes). Checkpoints written before this migration
keep their old signed message (seq and chain hash) and are still verified that way; their new
columns stay NULL.

``audit_tree_tiles`` holds the hash of every complete, aligned subtree of 256 leaves, written
when a checkpoint covers it, so that inclusion proofs never walk the whole log. Like the log,
it is append-only in the database itself.

Revision ID: 0009
Revises: 0005
Create Date: 2026-11-25

Other branches add 0006..0008; ``down_revision`` is re-pointed to the last of them on merge.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0011"
branch_labels = None
depends_on = None

TILES = "audit_tree_tiles"


def upgrade() -> None:
    with op.batch_alter_table("audit_checkpoints", recreate="never") as batch:
        batch.add_column(sa.Column("root", sa.LargeBinary(length=32), nullable=True))
        batch.add_column(sa.Column("note", sa.Text(), nullable=True))
        batch.add_column(sa.Column("consistency", sa.LargeBinary(), nullable=True))
    op.create_table(
        TILES,
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("idx"),
    )
    if op.get_bind().dialect.name == "sqlite":
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {TILES}_no_{action.lower()} BEFORE {action} ON {TILES} "
                f"BEGIN SELECT RAISE(ABORT, '{TILES} is append-only'); END"
            )
        return
    op.execute(
        f"CREATE TRIGGER {TILES}_append_only BEFORE UPDATE OR DELETE ON {TILES} "
        "FOR EACH ROW EXECUTE FUNCTION actas_append_only()"
    )
    op.execute(
        f"CREATE TRIGGER {TILES}_no_truncate BEFORE TRUNCATE ON {TILES} "
        "FOR EACH STATEMENT EXECUTE FUNCTION actas_append_only()"
    )


def downgrade() -> None:
    raise RuntimeError("the audit log is append-only; downgrading 0009 would drop its tree")
