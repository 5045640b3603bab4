"""Revision 0014 on a database with stock: the default warehouse takes all existing stock."""

from alembic import command
from sqlalchemy import text

from conveyor.core.db import make_engine
from conveyor.core.migrate import alembic_config
from tests.pricing.test_migration import NOW, empty_url  # noqa: F401 - the fixture


def test_existing_stock_lands_in_the_default_warehouse(empty_url: str) -> None:  # noqa: F811
    command.upgrade(alembic_config(empty_url), "0013")
    engine = make_engine(empty_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO product (id, sku, name, currency, location, price, on_hand, committed,"
                " tags, created_at) VALUES (1, 'OLD', 'Old', 'USD', 'B-07', 5, 7, 2, '[]', :now),"
                " (2, 'NONE', 'None', 'USD', 'A-01', 5, 0, 0, '[]', :now)"
            ),
            {"now": NOW},
        )
        conn.execute(
            text(
                "INSERT INTO stockmovement (id, key, sku, kind, qty, order_number, at) VALUES"
                " (1, 'opening:OLD', 'OLD', 'receive', 7, NULL, :now),"
                " (2, 'SO-1:commit:OLD', 'OLD', 'commit', 2, 'SO-1', :now)"
            ),
            {"now": NOW},
        )
    engine.dispose()
    command.upgrade(alembic_config(empty_url), "heads")
    engine = make_engine(empty_url)
    with engine.connect() as conn:
        warehouses = conn.execute(text("SELECT code, name FROM warehouse")).all()
        balances = conn.execute(
            text(
                "SELECT sku, warehouse, location, on_hand, committed FROM stockbalance ORDER BY sku"
            )
        ).all()
        ledger = conn.execute(text("SELECT warehouse FROM stockmovement ORDER BY id")).all()
    engine.dispose()
    assert [tuple(w) for w in warehouses] == [("MAIN", "MAIN")]
    assert [tuple(b) for b in balances] == [
        ("NONE", "MAIN", "A-01", 0, 0),
        ("OLD", "MAIN", "B-07", 7, 2),
    ]
    assert [w for (w,) in ledger] == ["MAIN", "MAIN"]
