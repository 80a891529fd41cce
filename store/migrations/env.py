"""Alembic environment: synchronous psycopg 3 connection, models' metadata for autogenerate."""

from alembic import context
from sqlalchemy import create_engine, pool

from store import (  # noqa: F401  (their tables join Base.metadata)
    interview_webhooks,
    interviews,
    platform,
    routing,
    scheduling,
)
from store.models import Base

config = context.config
engine = create_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
