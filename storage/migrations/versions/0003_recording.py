"""recording and review: recordings, consents, the audit log, retention per exam

Revision ID: 0003
Revises: 0004 (main's head now; the lead re-chains with 0002 at merge)
Create Date: 2026-12-02 18:00:00
"""

import sqlalchemy as sa
from alembic import op

import storage.models

revision = "0003"
down_revision = "0004"
branch_labels = None
depends_on = None

_TIME = storage.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("text_sha256", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("given_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_consents_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consents")),
    )
    with op.batch_alter_table("consents") as batch_op:
        batch_op.create_index(batch_op.f("ix_consents_user_id"), ["user_id"], unique=False)

    op.create_table(
        "recordings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("track", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", _TIME, nullable=False),
        sa.Column("ended_at", _TIME, nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("size_bytes", sa.Integer(), nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["exam_sessions.id"],
            name=op.f("fk_recordings_session_id_exam_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recordings")),
        sa.UniqueConstraint("session_id", "track", name="uq_recordings_track"),
    )
    with op.batch_alter_table("recordings") as batch_op:
        batch_op.create_index(batch_op.f("ix_recordings_session_id"), ["session_id"], unique=False)

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("exam_id", sa.Integer(), nullable=True),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("subject_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log") as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_actor_id"), ["actor_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_session_id"), ["session_id"], unique=False)

    with op.batch_alter_table("exams") as batch_op:
        batch_op.add_column(sa.Column("retention_days", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("record_screen", sa.Boolean(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("exam_sessions") as batch_op:
        batch_op.add_column(sa.Column("purged_at", _TIME, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("exam_sessions") as batch_op:
        batch_op.drop_column("purged_at")
    with op.batch_alter_table("exams") as batch_op:
        batch_op.drop_column("record_screen")
        batch_op.drop_column("retention_days")
    op.drop_table("audit_log")
    op.drop_table("recordings")
    op.drop_table("consents")
