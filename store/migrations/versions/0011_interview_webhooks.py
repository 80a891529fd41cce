"""interviews: webhook subscriptions, their deliveries and each delivery's attempts

Revision ID: 0011_interview_webhooks
Revises: 0010_interview_results
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011_interview_webhooks"
down_revision = "0010_interview_results"
branch_labels = None
depends_on = None


def _tenant() -> sa.Column:
    return sa.Column("tenant_id", sa.Uuid(), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False)


def _at(name: str, nullable: bool = False) -> sa.Column:
    default = None if nullable else sa.text("now()")
    return sa.Column(name, sa.DateTime(timezone=True), server_default=default, nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "interview_webhook_subscriptions",
        sa.Column("id", sa.Uuid(), primary_key=True),
        _tenant(),
        _at("created_at"),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("events", postgresql.ARRAY(sa.String(64)), nullable=False),
        sa.Column("sealed_secret", sa.LargeBinary(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
    )
    op.create_index(
        "ix_interview_webhook_subscriptions_tenant_created",
        "interview_webhook_subscriptions",
        ["tenant_id", "created_at", "id"],
    )
    op.create_table(
        "interview_webhook_deliveries",
        sa.Column("id", sa.Uuid(), primary_key=True),
        _tenant(),
        sa.Column(
            "subscription_id",
            sa.Uuid(),
            sa.ForeignKey("interview_webhook_subscriptions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "interview_id", sa.Uuid(), sa.ForeignKey("interviews.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("event", sa.String(64), nullable=False),
        _at("created_at"),
        sa.Column("sealed_body", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_status_code", sa.SmallInteger(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        _at("delivered_at", nullable=True),
    )
    op.create_index(
        "ix_interview_webhook_deliveries_subscription_created",
        "interview_webhook_deliveries",
        ["subscription_id", "created_at", "id"],
    )
    op.create_index(
        "ix_interview_webhook_deliveries_interview", "interview_webhook_deliveries", ["interview_id"]
    )
    op.create_table(
        "interview_webhook_attempts",
        sa.Column(
            "delivery_id",
            sa.Uuid(),
            sa.ForeignKey("interview_webhook_deliveries.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("number", sa.Integer(), primary_key=True),
        _tenant(),
        _at("started_at"),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.SmallInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("interview_webhook_attempts")
    op.drop_table("interview_webhook_deliveries")
    op.drop_table("interview_webhook_subscriptions")
