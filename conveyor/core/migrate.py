"""Run the Alembic migrations programmatically (used by `conveyor migrate` and the tests)."""

from importlib.resources import files

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = files("conveyor") / "migrations"


def alembic_config(url: str) -> Config:
    """An Alembic config for our migrations folder and this database."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s")
    config.attributes["url"] = url
    return config


def upgrade(url: str) -> None:
    """Bring the database at `url` to the newest schema."""
    # "heads": parallel branches of revisions (merged later) all apply.
    command.upgrade(alembic_config(url), "heads")
