"""Migrations: one head, and the tables they build are exactly what the models describe."""

from datetime import UTC, datetime, timedelta

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from conveyor.core.db import make_engine, session_scope
from conveyor.core.migrate import alembic_config
from conveyor.customer.models import Customer
from conveyor.order.models import SalesOrder


def test_one_head(database_url: str) -> None:
    heads = ScriptDirectory.from_config(alembic_config(database_url)).get_heads()
    assert len(heads) == 1, f"merge the heads: alembic merge heads ({heads})"


def test_models_match_the_migrated_schema(engine: Engine) -> None:
    import conveyor.migrations.models  # noqa: F401 - every table on SQLModel.metadata

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, SQLModel.metadata)
    assert differences == [], "a model changed without a migration: " + repr(differences)


def test_step_seconds_are_filled_in_for_the_trail_written_before(database_url: str) -> None:
    """Migration 0037 pairs each completion with the entry before it of its order and step."""
    config = alembic_config(database_url)
    engine = make_engine(database_url)
    try:
        with session_scope(engine) as session:
            customer = Customer(name="M", email="m@example.com")
            session.add(customer)
            session.flush()
            order = SalesOrder(number="MG-1", channel="phone", customer_id=customer.id)
            session.add(order)
            session.flush()
            order_id = order.id
        engine.dispose()
        command.downgrade(config, f"{STEP_SECONDS}-1")
        with engine.begin() as conn:
            for key, step, kind, seconds in TRAIL:
                conn.execute(
                    text(
                        "INSERT INTO orderevent (key, order_id, step, kind, message, actor, at)"
                        " VALUES (:key, :order, :step, :kind, '', 'system', :at)"
                    ),
                    {
                        "key": key,
                        "order": order_id,
                        "step": step,
                        "kind": kind,
                        "at": BASE + timedelta(seconds=seconds),
                    },
                )
        command.upgrade(config, "heads")
        with engine.connect() as conn:
            found = dict(conn.execute(text("SELECT key, seconds FROM orderevent")).all())
    finally:
        engine.dispose()
    assert found == {
        "p-s1": None,
        "p-s2": None,
        "p-c": 30.0,  # from the latest start
        "p-c-again": None,  # a completion after a completion: no start to pair with
        "k-s": None,
        "k-c": 7.5,  # packing pairs with its own start, not picking's
    }


STEP_SECONDS = "0037"
BASE = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
TRAIL = [
    ("p-s1", "picking", "step_started", 0),
    ("k-s", "packing", "step_started", 5),
    ("p-s2", "picking", "step_started", 10),
    ("k-c", "packing", "step_completed", 12.5),
    ("p-c", "picking", "step_completed", 40),
    ("p-c-again", "picking", "step_completed", 50),
]
