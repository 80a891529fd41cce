"""platform tenants: each tenant's default strategy and the scheduler's fairness memory

Revision ID: 0006_platform_tenants
Revises: 0005_platform_schedules
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_platform_tenants"
down_revision = "0005_platform_schedules"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "platform_tenants",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("default_strategy", sa.String(length=16), nullable=True),
        sa.Column("last_turn", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("tenant_id"),
    )


def downgrade() -> None:
    op.drop_table("platform_tenants")
