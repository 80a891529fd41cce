"""The migrations build exactly the tables the models describe (what autogenerate would add,
drop or alter after `alembic upgrade head` is nothing)."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from core.settings import Settings
from store import (  # noqa: F401  (their tables join Base.metadata)
    interview_webhooks,
    interviews,
    platform,
    routing,
    scheduling,
)
from store.models import Base


def test_models_and_migrations_agree(settings: Settings) -> None:
    assert settings.database_url
    url = settings.database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert differences == []
