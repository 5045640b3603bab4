"""Migrations after 0003 on a database that already has orders: existing rows get defaults."""

import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from alembic import command
from sqlalchemy import text

from conveyor.core.db import make_engine
from conveyor.core.migrate import alembic_config
from tests.conftest import PG_ADMIN_URL, _postgres_available

NOW = "2026-01-02 03:04:05+00:00"


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database (no migrations applied)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    if not _postgres_available():
        pytest.skip("PostgreSQL is unreachable")
    name = f"conveyor_mig_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    yield f"{base}/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_upgrade_keeps_existing_orders_and_invoices(empty_url: str) -> None:
    command.upgrade(alembic_config(empty_url), "0003")
    engine = make_engine(empty_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                'INSERT INTO customer (id, name, email, "group", country, credit_limit, created_at)'
                " VALUES (1, 'Old', 'old@example.com', 'retail', 'US', 0, :now)"
            ),
            {"now": NOW},
        )
        conn.execute(
            text(
                "INSERT INTO product (id, sku, name, currency, location, price, on_hand, committed,"
                " tags, created_at) VALUES (1, 'OLD', 'Old', 'USD', 'A', 5, 1, 0, '[]', :now)"
            ),
            {"now": NOW},
        )
        conn.execute(
            text(
                "INSERT INTO salesorder (id, number, channel, customer_id, status, currency,"
                " subtotal, total, prepaid, workflow_started, created_at, updated_at) VALUES"
                " (1, 'SO-1', 'phone', 1, 'open', 'USD', 10, 10, false, true, :now, :now)"
            ),
            {"now": NOW},
        )
        conn.execute(
            text(
                "INSERT INTO orderline (id, order_id, sku, name, qty, unit_price, line_total)"
                " VALUES (1, 1, 'OLD', 'Old', 2, 5, 10)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO invoice (id, number, key, order_id, currency, subtotal, tax, total,"
                " issued_at) VALUES (1, 'INV-1', 'k', 1, 'USD', 10, 0, 10, :now)"
            ),
            {"now": NOW},
        )
    engine.dispose()
    # Every later revision, on rows that exist: SQLite rebuilds a table for an expression
    # server default, and a rebuild of `salesorder` fails on the foreign keys once rows exist.
    command.upgrade(alembic_config(empty_url), "heads")
    engine = make_engine(empty_url)
    with engine.connect() as conn:
        order = conn.execute(
            text(
                "SELECT total, discount_total, charges_total, tax_total, prices_include_tax"
                " FROM salesorder"
            )
        ).one()
        line = conn.execute(
            text("SELECT price_rule, tax_class, tax_rate, tax_amount, list_price FROM orderline")
        ).one()
        invoice = conn.execute(text("SELECT charges, prices_include_tax FROM invoice")).one()
        product = conn.execute(text("SELECT item_group, tax_class FROM product")).one()
    engine.dispose()
    assert [Decimal(str(v)) for v in order[:4]] == [Decimal(10), 0, 0, 0]
    assert not order[4]
    assert (line[0], line[1], Decimal(str(line[2])), Decimal(str(line[3]))) == (
        "list price",
        "standard",
        0,
        0,
    )
    assert Decimal(str(invoice[0])) == 0 and not invoice[1]
    assert tuple(product) == (None, "standard")
