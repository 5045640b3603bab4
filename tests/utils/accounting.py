"""Test books: an invoiced order with two tax classes, payments, a refund and a credit note."""

from decimal import Decimal

from sqlalchemy.engine import Engine

from conveyor.audit.service import Actor
from conveyor.core.db import session_scope
from conveyor.customer import service as customer_service
from conveyor.customer.models import CustomerCreate
from conveyor.inventory import service as inventory_service
from conveyor.inventory.models import ProductCreate
from conveyor.invoice import service as invoice_service
from conveyor.order import service as order_service
from conveyor.order.models import OrderChargeCreate, OrderCreate, OrderLineCreate
from conveyor.pricing import service as pricing_service
from conveyor.pricing.models import ShippingRateCreate, TaxRateCreate


def books(engine: Engine, *, inclusive: bool = False) -> tuple[str, str]:
    """One invoiced order (two tax classes, shipping, a special charge), part paid, then credited.

    Returns (invoice number, credit note number).
    """
    with session_scope(engine) as session:
        customer = customer_service.create(
            session=session,
            customer_in=CustomerCreate(name="A", email="a@example.com", country="DE"),
            actor=Actor.cli("test"),
        )
        for product in (
            ProductCreate(name="Item", sku="TOOL", price="19.99", item_group="tools"),
            ProductCreate(
                name="Item", sku="BOOK", price="8.50", item_group="books", tax_class="reduced"
            ),
        ):
            inventory_service.create(
                session=session,
                product_in=product,
                default_warehouse="MAIN",
                actor=Actor.cli("test"),
            )
        for rate in (
            TaxRateCreate(tax_class="standard", country="DE", rate="19"),
            TaxRateCreate(tax_class="reduced", country="DE", rate="7"),
        ):
            pricing_service.create_tax_rate(session=session, rate_in=rate, actor=Actor.cli("test"))
        pricing_service.create_shipping_rate(
            session=session,
            rate_in=ShippingRateCreate(country="DE", amount="4.95"),
            actor=Actor.cli("test"),
        )
        order = order_service.create(
            session=session,
            order_in=OrderCreate(
                customer_id=customer.id,
                lines=[OrderLineCreate(sku="TOOL", qty=3), OrderLineCreate(sku="BOOK", qty=2)],
                charges=[OrderChargeCreate(kind="special", description="Wrap", amount="2.00")],
                prices_include_tax=inclusive,
            ),
            created_by="test",
            actor=Actor.cli("test"),
        )
        invoice = invoice_service.create_for_order(session=session, key="i", order=order)
        invoice_service.record_payment(
            session=session,
            key="p1",
            order=order,
            amount=Decimal("50"),
            method="stripe",
            actor=Actor.cli("test"),
        )
        invoice_service.record_payment(
            session=session,
            key="p2",
            order=order,
            amount=Decimal("10"),
            method="manual",
            actor=Actor.cli("test"),
        )
        invoice_service.record_payment(
            session=session,
            key="r1",
            order=order,
            amount=Decimal("-4"),
            method="stripe_refund",
            actor=Actor.cli("test"),
        )
        note = invoice_service.create_credit_note(
            session=session, key="c", invoice=invoice, reason="returned"
        )
        return invoice.number, note.number
