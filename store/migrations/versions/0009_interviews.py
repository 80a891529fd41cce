"""interviews: candidates, interviews, recordings

Revision ID: 0009_interviews
Revises: 0008_calendar_sync
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009_interviews"
down_revision = "0008_calendar_sync"
branch_labels = None
depends_on = None


def _tenant() -> sa.Column:
    return sa.Column("tenant_id", sa.Uuid(), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False)


def _at(name: str, nullable: bool = False) -> sa.Column:
    default = None if nullable else sa.text("now()")
    return sa.Column(name, sa.DateTime(timezone=True), server_default=default, nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "interview_candidates",
        sa.Column("id", sa.Uuid(), primary_key=True),
        _tenant(),
        _at("created_at"),
        _at("updated_at"),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
    )
    op.create_index(
        "ix_interview_candidates_tenant_created", "interview_candidates", ["tenant_id", "created_at", "id"]
    )
    op.create_table(
        "interviews",
        sa.Column("id", sa.Uuid(), primary_key=True),
        _tenant(),
        sa.Column(
            "candidate_id",
            sa.Uuid(),
            sa.ForeignKey("interview_candidates.id", ondelete="CASCADE"),
            nullable=False,
        ),
        _at("created_at"),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("position", sa.String(200), nullable=False),
        sa.Column("language", sa.String(35), nullable=False),
        _at("scheduled_at", nullable=True),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("rubric", postgresql.JSONB(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(32), server_default="created", nullable=False),
    )
    op.create_index("ix_interviews_tenant_created", "interviews", ["tenant_id", "created_at", "id"])
    op.create_index("ix_interviews_candidate", "interviews", ["candidate_id"])
    op.create_table(
        "interview_recordings",
        sa.Column("id", sa.Uuid(), primary_key=True),
        _tenant(),
        sa.Column(
            "interview_id", sa.Uuid(), sa.ForeignKey("interviews.id", ondelete="CASCADE"), nullable=False
        ),
        _at("created_at"),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("blob_key", sa.String(512), nullable=False),
        sa.Column("container", sa.String(32), nullable=False),
        sa.Column("codec", sa.String(32), nullable=False),
        sa.Column("duration_seconds", sa.Double(), nullable=False),
        sa.Column("channels", sa.Integer(), nullable=False),
        sa.Column("sample_rate", sa.Integer(), nullable=False),
        sa.Column("bit_rate", sa.Integer(), nullable=True),
        sa.UniqueConstraint("interview_id", "sha256", name="uq_interview_recordings_interview_sha256"),
    )
    op.create_index(
        "ix_interview_recordings_interview_created",
        "interview_recordings",
        ["interview_id", "created_at", "id"],
    )


def downgrade() -> None:
    for table in ("interview_recordings", "interviews", "interview_candidates"):
        op.drop_table(table)
