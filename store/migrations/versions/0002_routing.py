"""routing

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_limits",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("tat", sa.DateTime(timezone=True), nullable=False),
        sa.Column("window_second", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("window_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("peak_per_second", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("total", sa.BigInteger(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "companies",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("mode", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(["id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "partnerships",
        sa.Column("referrer_id", sa.Uuid(), nullable=False),
        sa.Column("receiver_id", sa.Uuid(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("preferred_by_referrer", sa.Boolean(), nullable=False),
        sa.Column("fee_kind", sa.String(length=16), nullable=False),
        sa.Column("fee_amount", sa.Numeric(precision=16, scale=4), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["receiver_id"], ["companies.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["referrer_id"], ["companies.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("referrer_id", "receiver_id", name="uq_partnerships_pair"),
    )
    op.create_index(op.f("ix_partnerships_receiver_id"), "partnerships", ["receiver_id"], unique=False)
    op.create_table(
        "provider_connections",
        sa.Column("company_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("st_tenant_id", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=200), nullable=False),
        sa.Column("client_secret", sa.LargeBinary(), nullable=False),
        sa.Column("booking_provider_id", sa.String(length=64), nullable=False),
        sa.Column("rate_limit_per_second", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["company_id"], ["companies.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("company_id"),
    )
    op.create_table(
        "routing_profiles",
        sa.Column("company_id", sa.Uuid(), nullable=False),
        sa.Column("profile", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["company_id"], ["companies.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("company_id"),
    )
    op.create_table(
        "technicians",
        sa.Column("company_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["company_id"], ["companies.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_technicians_company_id"), "technicians", ["company_id"], unique=False)
    op.create_table(
        "service_jobs",
        sa.Column("referrer_id", sa.Uuid(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("technician_id", sa.Uuid(), nullable=True),
        sa.Column("summary", sa.String(length=200), nullable=False),
        sa.Column("trade", sa.String(length=32), nullable=False),
        sa.Column("zip5", sa.String(length=5), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("no_candidate_reason", sa.Text(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["referrer_id"], ["companies.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["technician_id"], ["technicians.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("referrer_id", "idempotency_key", name="uq_service_jobs_idempotency"),
    )
    op.create_index(op.f("ix_service_jobs_referrer_id"), "service_jobs", ["referrer_id"], unique=False)
    op.create_table(
        "routings",
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("referrer_id", sa.Uuid(), nullable=False),
        sa.Column("receiver_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=True),
        sa.Column("failed_step", sa.String(length=32), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("st_customer_id", sa.BigInteger(), nullable=True),
        sa.Column("st_location_id", sa.BigInteger(), nullable=True),
        sa.Column("st_booking_id", sa.BigInteger(), nullable=True),
        sa.Column("st_job_id", sa.BigInteger(), nullable=True),
        sa.Column("provider_status", sa.String(length=32), nullable=True),
        sa.Column("invoice_total", sa.Numeric(precision=16, scale=2), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["service_jobs.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["receiver_id"], ["companies.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["referrer_id"], ["companies.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("job_id", "receiver_id", name="uq_routings_job_receiver"),
    )
    op.create_index("ix_routings_receiver_created", "routings", ["receiver_id", "created_at"], unique=False)
    op.create_index(
        "ix_routings_receiver_status", "routings", ["receiver_id", "status", "created_at", "id"], unique=False
    )
    op.create_index(
        "ix_routings_referrer_status", "routings", ["referrer_id", "status", "created_at", "id"], unique=False
    )
    op.create_table(
        "ledger_entries",
        sa.Column("routing_id", sa.Uuid(), nullable=False),
        sa.Column("referrer_id", sa.Uuid(), nullable=False),
        sa.Column("receiver_id", sa.Uuid(), nullable=False),
        sa.Column("invoice_total", sa.Numeric(precision=16, scale=2), nullable=False),
        sa.Column("fee_kind", sa.String(length=16), nullable=False),
        sa.Column("fee_amount", sa.Numeric(precision=16, scale=4), nullable=False),
        sa.Column("fee", sa.Numeric(precision=16, scale=2), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["receiver_id"], ["companies.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["referrer_id"], ["companies.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["routing_id"], ["routings.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("routing_id"),
    )
    op.create_index(op.f("ix_ledger_entries_receiver_id"), "ledger_entries", ["receiver_id"], unique=False)
    op.create_index(op.f("ix_ledger_entries_referrer_id"), "ledger_entries", ["referrer_id"], unique=False)
    op.create_table(
        "routing_events",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("routing_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("step", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=True),
        sa.Column("provider_status", sa.String(length=32), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["routing_id"], ["routings.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("routing_id", "key", name="uq_routing_events_key"),
    )


def downgrade() -> None:
    op.drop_table("routing_events")
    op.drop_index(op.f("ix_ledger_entries_referrer_id"), table_name="ledger_entries")
    op.drop_index(op.f("ix_ledger_entries_receiver_id"), table_name="ledger_entries")
    op.drop_table("ledger_entries")
    op.drop_index("ix_routings_referrer_status", table_name="routings")
    op.drop_index("ix_routings_receiver_status", table_name="routings")
    op.drop_index("ix_routings_receiver_created", table_name="routings")
    op.drop_table("routings")
    op.drop_index(op.f("ix_service_jobs_referrer_id"), table_name="service_jobs")
    op.drop_table("service_jobs")
    op.drop_index(op.f("ix_technicians_company_id"), table_name="technicians")
    op.drop_table("technicians")
    op.drop_table("routing_profiles")
    op.drop_table("provider_connections")
    op.drop_index(op.f("ix_partnerships_receiver_id"), table_name="partnerships")
    op.drop_table("partnerships")
    op.drop_table("companies")
    op.drop_table("rate_limits")
