"""scheduling: users, Google connections, OAuth flows, calendars, calendar events

Revision ID: 0007_scheduling
Revises: 0006_platform_tenants
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007_scheduling"
down_revision = "0006_platform_tenants"
branch_labels = None
depends_on = None


def _tenant() -> sa.Column:
    return sa.Column("tenant_id", sa.Uuid(), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False)


def _at(name: str, nullable: bool = False) -> sa.Column:
    default = None if nullable else sa.text("now()")
    return sa.Column(name, sa.DateTime(timezone=True), server_default=default, nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "scheduling_users",
        sa.Column("id", sa.Uuid(), primary_key=True),
        _tenant(),
        _at("created_at"),
        sa.Column("email_digest", sa.String(64), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.UniqueConstraint("tenant_id", "email_digest", name="uq_scheduling_users_email"),
    )
    op.create_index(
        "ix_scheduling_users_tenant_created", "scheduling_users", ["tenant_id", "created_at", "id"]
    )
    op.create_table(
        "google_connections",
        sa.Column(
            "user_id",
            sa.Uuid(),
            sa.ForeignKey("scheduling_users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        _tenant(),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("scopes", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("sealed_tokens", sa.LargeBinary(), nullable=True),
        _at("connected_at"),
        _at("updated_at"),
        sa.Column("last_error", sa.Text(), nullable=True),
    )
    op.create_table(
        "oauth_flows",
        sa.Column("id", sa.Uuid(), primary_key=True),
        _tenant(),
        sa.Column(
            "user_id", sa.Uuid(), sa.ForeignKey("scheduling_users.id", ondelete="CASCADE"), nullable=False
        ),
        _at("created_at"),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        _at("used_at", nullable=True),
        sa.Column("sealed_verifier", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "calendars",
        sa.Column("id", sa.Uuid(), primary_key=True),
        _tenant(),
        sa.Column(
            "user_id", sa.Uuid(), sa.ForeignKey("scheduling_users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("google_calendar_id", sa.String(255), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("selected", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("sync_status", sa.String(32), server_default="idle", nullable=False),
        sa.Column("sync_token", sa.Text(), nullable=True),
        _at("last_success_at", nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("events_count", sa.Integer(), server_default="0", nullable=False),
        sa.UniqueConstraint("user_id", "google_calendar_id", name="uq_calendars_user_google_id"),
    )
    op.create_index("ix_calendars_tenant_user", "calendars", ["tenant_id", "user_id"])
    op.create_table(
        "calendar_events",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        _tenant(),
        sa.Column(
            "calendar_id", sa.Uuid(), sa.ForeignKey("calendars.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("event_id", sa.String(1024), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("all_day", sa.Boolean(), nullable=False),
        _at("start_at", nullable=True),
        _at("end_at", nullable=True),
        sa.Column("recurring", sa.Boolean(), nullable=False),
        sa.Column("recurring_event_id", sa.String(1024), nullable=True),
        sa.Column("etag", sa.String(255), nullable=True),
        _at("updated", nullable=True),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.UniqueConstraint("calendar_id", "event_id", name="uq_calendar_events_calendar_event"),
    )
    op.create_index("ix_calendar_events_calendar_start", "calendar_events", ["calendar_id", "start_at"])


def downgrade() -> None:
    for table in ("calendar_events", "calendars", "oauth_flows", "google_connections", "scheduling_users"):
        op.drop_table(table)
