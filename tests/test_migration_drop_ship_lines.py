"""Migration 0041: existing order lines take their source from their product's drop-ship flag."""

from decimal import Decimal

from alembic import command
from sqlalchemy import text

from conveyor.core.db import make_engine, session_scope
from conveyor.core.migrate import alembic_config
from conveyor.customer.models import Customer
from conveyor.inventory.models import Product
from conveyor.order.models import OrderLine, SalesOrder

DROP_SHIP_PER_LINE = "0041"


def test_existing_lines_of_drop_ship_products_are_shipped_by_their_supplier(
    database_url: str,
) -> None:
    config = alembic_config(database_url)
    engine = make_engine(database_url)
    try:
        with session_scope(engine) as session:
            customer = Customer(name="M", email="m@example.com")
            supplied = Product(
                sku="MG-DS", price=Decimal("1"), drop_ship=True, supplier_email="s@example.com"
            )
            session.add_all([customer, supplied, Product(sku="MG-ST", price=Decimal("1"))])
            session.flush()
            order = SalesOrder(number="MG-1", channel="phone", customer_id=customer.id)
            session.add(order)
            session.flush()
            session.add_all(
                [OrderLine(order_id=order.id or 0, sku=sku, qty=1) for sku in ("MG-DS", "MG-ST")]
            )
        engine.dispose()
        command.downgrade(config, f"{DROP_SHIP_PER_LINE}-1")
        command.upgrade(config, "heads")
        with engine.connect() as conn:
            found = dict(conn.execute(text("SELECT sku, drop_ship FROM orderline")).all())
    finally:
        engine.dispose()
    assert {sku: bool(value) for sku, value in found.items()} == {"MG-DS": True, "MG-ST": False}
