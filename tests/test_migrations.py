"""Migrations: one head, and the tables they build are exactly what the models describe."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from conveyor.core.migrate import alembic_config


def test_one_head(database_url: str) -> None:
    heads = ScriptDirectory.from_config(alembic_config(database_url)).get_heads()
    assert len(heads) == 1, f"merge the heads: alembic merge heads ({heads})"


def test_models_match_the_migrated_schema(engine: Engine) -> None:
    import conveyor.migrations.models  # noqa: F401 - every table on SQLModel.metadata

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == [], "a model changed without a migration: " + repr(differences)
