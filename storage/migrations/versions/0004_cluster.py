"""several nodes: who holds each live attempt (with a fencing number), files in the database

Revision ID: 0004
Revises: 0002
Create Date: 2026-12-02 18:00:00
"""

import sqlalchemy as sa
from alembic import op

import storage.models

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("exam_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("live_node", sa.String(length=128), nullable=True))
        batch_op.add_column(
            sa.Column("live_fence", sa.BigInteger(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.create_index(
            batch_op.f("ix_exam_sessions_live_node"), ["live_node"], unique=False
        )
    op.create_table(
        "blobs",
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_blobs")),
    )


def downgrade() -> None:
    op.drop_table("blobs")
    with op.batch_alter_table("exam_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exam_sessions_live_node"))
        batch_op.drop_column("live_fence")
        batch_op.drop_column("live_node")
