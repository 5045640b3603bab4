"""Test data for payment terms and receivables, made through the services: customers on terms,
invoices issued (and backdated) without running the order workflow."""

import uuid
from datetime import timedelta
from decimal import Decimal

from sqlalchemy.engine import Engine

from conveyor.audit.service import Actor
from conveyor.core.db import session_scope
from conveyor.customer import service as customer_service
from conveyor.customer.models import CustomerCreate
from conveyor.inventory import service as inventory_service
from conveyor.inventory.models import ProductCreate
from conveyor.invoice import service as invoice_service
from conveyor.invoice.models import Invoice
from conveyor.order import service as order_service
from conveyor.order.models import OrderCreate, OrderLineCreate, SalesOrder
from conveyor.terms import service as terms_service
from conveyor.terms.models import PaymentTermsCreate

ACTOR = Actor.cli("test")


def add_terms(engine: Engine, code: str, net_days: int, **extra: object) -> None:
    """A terms template (`extra`: discount_percent, discount_days, deposit_percent)."""
    with session_scope(engine) as session:
        terms_service.create(
            session=session,
            terms_in=PaymentTermsCreate.model_validate(
                {"code": code, "name": code, "net_days": net_days, **extra}
            ),
            actor=ACTOR,
        )


def add_customer(engine: Engine, name: str, **extra: object) -> int:
    """A customer (`extra`: payment_terms_code, payment_terms_days, ...); its id."""
    with session_scope(engine) as session:
        customer = customer_service.create(
            session=session,
            customer_in=CustomerCreate.model_validate(
                {"name": name, "email": f"c-{uuid.uuid4().hex[:8]}@example.com", **extra}
            ),
            actor=ACTOR,
        )
        return customer.id or 0


def issue_invoice(
    engine: Engine,
    customer_id: int,
    price: str,
    *,
    days_ago: int = 0,
    qty: int = 1,
    currency: str = "USD",
) -> str:
    """Order one line and invoice it now, or backdated `days_ago` with its due date and
    discount date moved along (as if issued then); the invoice number."""
    sku = f"T-{uuid.uuid4().hex[:8]}"
    with session_scope(engine) as session:
        inventory_service.create(
            session=session,
            product_in=ProductCreate(
                name=f"Thing {sku}", sku=sku, price=Decimal(price), currency=currency
            ),
            default_warehouse="MAIN",
            actor=ACTOR,
        )
        order = order_service.create(
            session=session,
            order_in=OrderCreate(
                customer_id=customer_id, lines=[OrderLineCreate(sku=sku, qty=qty)]
            ),
            created_by="test",
            actor=ACTOR,
        )
        invoice = invoice_service.create_for_order(session=session, key=sku, order=order)
        if days_ago:
            back = timedelta(days=days_ago)
            invoice.issued_at -= back
            if invoice.due_at is not None:
                invoice.due_at -= back
            if invoice.discount_until is not None:
                invoice.discount_until -= back
            session.add(invoice)
        return invoice.number


def pay(engine: Engine, number: str, amount: str, key: str | None = None) -> None:
    """Record a payment for the invoice's order (as the payments route does)."""
    with session_scope(engine) as session:
        invoice = invoice_service.get_by_number(session=session, number=number)
        assert invoice is not None
        order = session.get(SalesOrder, invoice.order_id)
        assert order is not None
        invoice_service.record_payment(
            session=session,
            key=key or f"pay-{uuid.uuid4().hex[:8]}",
            order=order,
            amount=Decimal(amount),
            method="bank",
            actor=ACTOR,
        )


def load_invoice(engine: Engine, number: str) -> Invoice:
    """The invoice as stored now."""
    with session_scope(engine) as session:
        invoice = invoice_service.get_by_number(session=session, number=number)
        assert invoice is not None
        session.expunge(invoice)
        return invoice
