"""provider writes whose outcome may be unknown

Revision ID: 0003_provider_writes
Revises: 0002
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_provider_writes"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "provider_writes",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("company_id", sa.Uuid(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("in_doubt", sa.Boolean(), server_default="false", nullable=False),
        sa.ForeignKeyConstraint(["company_id"], ["companies.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_provider_writes_company_id", "provider_writes", ["company_id"])


def downgrade() -> None:
    op.drop_index("ix_provider_writes_company_id", table_name="provider_writes")
    op.drop_table("provider_writes")
