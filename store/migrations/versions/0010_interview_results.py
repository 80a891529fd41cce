"""interviews: transcripts and analyses, and why an interview failed

Revision ID: 0010_interview_results
Revises: 0009_interviews
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_interview_results"
down_revision = "0009_interviews"
branch_labels = None
depends_on = None


def _common() -> list[sa.Column]:
    return [
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("tenant_id", sa.Uuid(), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
        sa.Column(
            "interview_id", sa.Uuid(), sa.ForeignKey("interviews.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("model", sa.String(100), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "interview_transcripts",
        *_common(),
        sa.Column(
            "recording_id",
            sa.Uuid(),
            sa.ForeignKey("interview_recordings.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("duration_seconds", sa.Double(), nullable=False),
    )
    op.create_index(
        "ix_interview_transcripts_interview_created", "interview_transcripts", ["interview_id", "created_at"]
    )
    op.create_table(
        "interview_analyses",
        *_common(),
        sa.Column(
            "transcript_id",
            sa.Uuid(),
            sa.ForeignKey("interview_transcripts.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("score", sa.Double(), nullable=False),
    )
    op.create_index(
        "ix_interview_analyses_interview_created", "interview_analyses", ["interview_id", "created_at"]
    )
    op.add_column("interviews", sa.Column("failure", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("interviews", "failure")
    op.drop_table("interview_analyses")
    op.drop_table("interview_transcripts")
