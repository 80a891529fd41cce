"""interviews: each analysis's token usage and latency

Revision ID: 0012_analysis_usage
Revises: 0011_interview_webhooks
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_analysis_usage"
down_revision = "0011_interview_webhooks"
branch_labels = None
depends_on = None

COLUMNS = ("input_tokens", "output_tokens", "latency_ms")


def upgrade() -> None:
    # Nullable: analyses made before this revision have no usage recorded.
    for name in COLUMNS:
        op.add_column("interview_analyses", sa.Column(name, sa.Integer(), nullable=True))


def downgrade() -> None:
    for name in COLUMNS:
        op.drop_column("interview_analyses", name)
