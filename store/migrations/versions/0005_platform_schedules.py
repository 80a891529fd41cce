"""platform schedules

Revision ID: 0005_platform_schedules
Revises: 0004_platform
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005_platform_schedules"
down_revision = "0004_platform"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "platform_schedules",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("correlation_id", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("spec", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("sealed_secrets", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", "idempotency_key", name="uq_platform_schedules_idempotency"),
    )
    op.create_index(
        "ix_platform_schedules_tenant_created",
        "platform_schedules",
        ["tenant_id", "created_at", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_platform_schedules_tenant_created", table_name="platform_schedules")
    op.drop_table("platform_schedules")
