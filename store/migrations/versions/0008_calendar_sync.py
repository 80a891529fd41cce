"""calendar sync: the listing cursor, full-sync generations, push channels

Revision ID: 0008_calendar_sync
Revises: 0007_scheduling
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_calendar_sync"
down_revision = "0007_scheduling"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("calendars", sa.Column("page_token", sa.Text(), nullable=True))
    op.add_column(
        "calendars", sa.Column("listing_full", sa.Boolean(), server_default="false", nullable=False)
    )
    op.add_column("calendars", sa.Column("generation", sa.BigInteger(), server_default="0", nullable=False))
    op.add_column("calendars", sa.Column("last_error_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "calendar_events", sa.Column("generation", sa.BigInteger(), server_default="0", nullable=False)
    )
    op.create_table(
        "calendar_channels",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("tenant_id", sa.Uuid(), sa.ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
        sa.Column(
            "calendar_id", sa.Uuid(), sa.ForeignKey("calendars.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("sealed_token", sa.LargeBinary(), nullable=False),
        sa.Column("resource_id", sa.Text(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_calendar_channels_calendar", "calendar_channels", ["calendar_id"])


def downgrade() -> None:
    op.drop_table("calendar_channels")
    op.drop_column("calendar_events", "generation")
    for column in ("last_error_at", "generation", "listing_full", "page_token"):
        op.drop_column("calendars", column)
