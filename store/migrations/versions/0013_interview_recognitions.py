"""interviews: the long-running recognitions started for a recording; tenants' analysis settings

Revision ID: 0013_interview_recognitions
Revises: 0012_analysis_usage
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0013_interview_recognitions"
down_revision = "0012_analysis_usage"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "interview_recognitions",
        sa.Column(
            "recording_id",
            sa.Uuid(),
            sa.ForeignKey("interview_recordings.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("provider", sa.String(32), primary_key=True),
        sa.Column("tenant_id", sa.Uuid(), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("operations", JSONB(), nullable=False),
    )
    op.create_table(
        "interview_tenant_settings",
        sa.Column("tenant_id", sa.Uuid(), sa.ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("recommendation", sa.Boolean(), server_default=sa.false(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("interview_tenant_settings")
    op.drop_table("interview_recognitions")
