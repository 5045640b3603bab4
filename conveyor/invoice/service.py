"""Invoicing, credit notes and payment recording."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from decimal import Decimal
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from conveyor.audit.service import Actor, record, snapshot
from conveyor.core.models import round_money, row_id, utcnow
from conveyor.customer.models import Customer
from conveyor.invoice.models import (
    DISCOUNT_METHOD,
    Counter,
    CreditNote,
    CreditNoteLine,
    Invoice,
    InvoiceLine,
    Payment,
)
from conveyor.order.models import OrderCharge, OrderLine, SalesOrder
from conveyor.outbound import events as outbound_events
from conveyor.terms import service as terms_service

ZERO = Decimal("0.00")


def next_number(*, session: Session, name: str) -> int:
    """Advance the named counter in the caller's transaction (no gaps: a rollback undoes it)."""
    result = session.exec(
        update(Counter).where(col(Counter.name) == name).values(value=Counter.value + 1)
    )
    if result.rowcount == 0:
        try:
            with session.begin_nested():
                session.add(Counter(name=name, value=1))
                session.flush()
            return 1
        except IntegrityError:
            return next_number(session=session, name=name)
    return session.exec(select(Counter.value).where(Counter.name == name)).one()


def get_by_number(*, session: Session, number: str) -> Invoice | None:
    """The invoice with that number, or None."""
    return session.exec(select(Invoice).where(Invoice.number == number)).first()


def lines(*, session: Session, invoice_id: int) -> list[InvoiceLine]:
    """The invoice's lines: goods first, then charges, in entry order."""
    return list(
        session.exec(
            select(InvoiceLine)
            .where(InvoiceLine.invoice_id == invoice_id)
            .order_by(col(InvoiceLine.id))
        )
    )


def get_by_key(*, session: Session, key: str) -> Invoice | None:
    """The invoice created under that idempotency key, or None."""
    return session.exec(select(Invoice).where(Invoice.key == key)).first()


def list_for_order(*, session: Session, order_id: int) -> list[Invoice]:
    """The order's invoices, oldest first."""
    return list(
        session.exec(
            select(Invoice).where(Invoice.order_id == order_id).order_by(col(Invoice.id))
        ).all()
    )


def numbered_invoice(*, session: Session, key: str, order: SalesOrder) -> Invoice:
    """A new, empty invoice of the order with the next number of this year's gap-free sequence."""
    year = utcnow().year
    seq = next_number(session=session, name=f"invoice-{year}")
    invoice = Invoice(
        number=f"INV-{year}-{seq:06d}",
        key=key,
        order_id=row_id(order),
        currency=order.currency,
        prices_include_tax=order.prices_include_tax,
    )
    session.add(invoice)
    session.flush()
    return invoice


def create_for_order(*, session: Session, key: str, order: SalesOrder) -> Invoice:
    """Invoice the whole order once per `key`, numbered from a gap-free yearly sequence."""
    existing = get_by_key(session=session, key=key)
    if existing:
        return existing
    invoice = numbered_invoice(session=session, key=key, order=order)
    invoice.subtotal, invoice.charges = order.subtotal, order.charges_total
    invoice.tax, invoice.total = order.tax_total, order.total
    session.add(invoice)
    session.flush()
    # The lines as issued: a later change to the order never changes an issued invoice.
    order_lines = session.exec(
        select(OrderLine).where(OrderLine.order_id == order.id).order_by(col(OrderLine.id))
    )
    for line in order_lines:
        session.add(
            InvoiceLine(
                invoice_id=row_id(invoice),
                kind="item",
                sku=line.sku,
                description=line.name,
                qty=line.qty,
                unit_price=line.unit_price,
                amount=line.line_total,
                price_rule=line.price_rule,
                tax_class=line.tax_class,
                tax_rate=line.tax_rate,
                tax_amount=line.tax_amount,
            )
        )
    add_charge_lines(session=session, invoice=invoice, order_id=order.id or 0)
    # An order recorded with totals that are not itemised (a store's own shipping, tax or
    # discount) still gets an invoice that adds up: the difference becomes its own line.
    itemised = order.subtotal + order.charges_total
    if not order.prices_include_tax:
        itemised += order.tax_total
    difference = round_money(order.total - itemised)
    if difference:
        add_adjustment_line(session=session, invoice=invoice, amount=difference)
        invoice.charges = round_money(invoice.charges + difference)
        session.add(invoice)
    apply_terms(session=session, invoice=invoice, order=order)
    session.flush()
    outbound_events.invoice_issued(session, invoice, order)
    return invoice


def apply_terms(*, session: Session, invoice: Invoice, order: SalesOrder) -> None:
    """Date the invoice (its total known) by the customer's terms at issue: due date, early-
    payment discount and, on the order's first invoice, the deposit the terms ask."""
    customer = session.get(Customer, order.customer_id)
    terms = terms_service.for_customer(session=session, customer=customer)
    invoice.terms_code = terms.code
    invoice.due_at = terms.due_at(invoice.issued_at)
    discount = terms.discount(invoice.issued_at, invoice.total)
    if discount is not None:
        invoice.discount_until, invoice.discount_amount = discount
    first = session.exec(
        select(func.count())
        .select_from(Invoice)
        .where(Invoice.order_id == invoice.order_id)
        .where(col(Invoice.id) < row_id(invoice))
    ).one()
    deposit = terms.deposit(order.total) if first == 0 else None
    invoice.deposit_amount = deposit or ZERO
    session.add(invoice)


def add_charge_lines(*, session: Session, invoice: Invoice, order_id: int) -> list[OrderCharge]:
    """Copy the order's shipping and special charges onto the invoice; returns them."""
    charges = list(
        session.exec(
            select(OrderCharge)
            .where(OrderCharge.order_id == order_id)
            .order_by(col(OrderCharge.id))
        )
    )
    for charge in charges:
        session.add(
            InvoiceLine(
                invoice_id=row_id(invoice),
                kind=charge.kind,
                description=charge.description,
                qty=1,
                unit_price=charge.amount,
                amount=charge.amount,
                tax_class=charge.tax_class,
                tax_rate=charge.tax_rate,
                tax_amount=charge.tax_amount,
            )
        )
    return charges


def add_adjustment_line(*, session: Session, invoice: Invoice, amount: Decimal) -> None:
    """A line for what an order's total holds beyond its itemised lines (a store's figures)."""
    session.add(
        InvoiceLine(
            invoice_id=row_id(invoice),
            kind="adjustment",
            description="difference to the order total (not itemised)",
            qty=1,
            unit_price=amount,
            amount=amount,
        )
    )


def create_credit_note(
    *,
    session: Session,
    key: str,
    invoice: Invoice,
    reason: str = "",
    lines: Sequence[CreditNoteLine] = (),
) -> CreditNote:
    """Credit an invoice once per `key`, numbered from a gap-free yearly sequence.

    Every credit note is issued here. Without `lines` it credits the whole invoice (cancel);
    with them (unsaved rows, as a return credits goods) only those lines and their tax.
    """
    existing = session.exec(select(CreditNote).where(CreditNote.key == key)).first()
    if existing:
        return existing
    year = utcnow().year
    seq = next_number(session=session, name=f"credit-note-{year}")
    if lines:
        subtotal = round_money(sum((line.amount for line in lines), ZERO))
        tax = round_money(sum((line.tax_amount for line in lines), ZERO))
        # As on the invoice: tax is inside the amounts when its prices include tax.
        charges, total = ZERO, subtotal if invoice.prices_include_tax else subtotal + tax
    else:
        subtotal, charges, tax = invoice.subtotal, invoice.charges, invoice.tax
        total = invoice.total
    note = CreditNote(
        number=f"CN-{year}-{seq:06d}",
        key=key,
        invoice_id=row_id(invoice),
        order_id=invoice.order_id,
        currency=invoice.currency,
        subtotal=subtotal,
        charges=charges,
        tax=tax,
        total=total,
        reason=reason[:500],
    )
    session.add(note)
    session.flush()
    for line in lines:
        line.credit_note_id = note.id or 0
    session.add_all(lines)
    session.flush()
    return note


def credited_total(*, session: Session, order_id: int) -> Decimal:
    """Sum of the credit notes on the order's invoices."""
    total = session.exec(
        select(func.coalesce(func.sum(CreditNote.total), 0)).where(CreditNote.order_id == order_id)
    ).one()
    return round_money(Decimal(total))


def credited_on_invoice(*, session: Session, invoice_id: int) -> Decimal:
    """Sum of the credit notes on one invoice."""
    total = session.exec(
        select(func.coalesce(func.sum(CreditNote.total), 0)).where(
            CreditNote.invoice_id == invoice_id
        )
    ).one()
    return round_money(Decimal(total))


def invoiced_total(*, session: Session, order_id: int) -> Decimal:
    """Sum of the order's invoices."""
    total = session.exec(
        select(func.coalesce(func.sum(Invoice.total), 0)).where(Invoice.order_id == order_id)
    ).one()
    return round_money(Decimal(total))


PAYMENT_FIELDS = ["id", "amount", "currency", "method", "reference", "key", "customer_credit"]


def paid_total(*, session: Session, order_id: int) -> Decimal:
    """Sum of the payments received for the order."""
    total = session.exec(
        select(func.coalesce(func.sum(Payment.amount), 0)).where(Payment.order_id == order_id)
    ).one()
    return round_money(Decimal(total))


def discount_reversal(
    *, session: Session, key: str, order: SalesOrder, credit: Decimal, reference: str, actor: Actor
) -> Payment | None:
    """Take back the share of the order's early-payment discounts that a credit of `credit`
    covers, once per `key`: a negative `discount` row (the journal posts it back to the
    receivable), so a refund after the credit pays out only what the customer paid.

    The share is the discounts granted times the credit over what was invoiced; the credit
    that brings the order to fully credited takes back whatever is left. None when there is
    nothing to take back.
    """
    existing = find_payment(session=session, key=key)
    if existing:
        return existing
    order_id = row_id(order)
    discounts = session.exec(
        select(Payment).where(Payment.order_id == order_id).where(Payment.method == DISCOUNT_METHOD)
    ).all()
    granted = sum((p.amount for p in discounts if p.amount > 0), ZERO)
    left = sum((p.amount for p in discounts), ZERO)
    invoiced = invoiced_total(session=session, order_id=order_id)
    if left <= 0 or invoiced <= 0 or credit <= 0:
        return None
    if credited_total(session=session, order_id=order_id) >= invoiced:
        share = left
    else:
        share = min(round_money(granted * credit / invoiced), left)
    if share <= 0:
        return None
    reversal = Payment(
        key=key,
        order_id=order_id,
        amount=-share,
        currency=order.currency,
        method=DISCOUNT_METHOD,
        reference=reference,
        recorded_by=actor.name,
    )
    session.add(reversal)
    session.flush()
    record(
        session,
        actor=actor,
        action="order.payment_discount_reversed",
        entity="order",
        entity_id=order.number,
        after=snapshot(reversal, PAYMENT_FIELDS),
    )
    return reversal


def record_payment(
    *,
    session: Session,
    key: str,
    order: SalesOrder,
    amount: Decimal,
    method: str,
    reference: str | None = None,
    actor: Actor,
    customer_credit: bool = False,
) -> Payment:
    """Record a payment once per `key` (audited on the order); `customer_credit` marks money
    for an order that owed nothing, kept as the customer's credit."""
    existing = find_payment(session=session, key=key)
    if existing:
        return existing
    payment = Payment(
        key=key,
        order_id=row_id(order),
        amount=round_money(amount),
        currency=order.currency,
        method=method,
        reference=reference,
        recorded_by=actor.name,
        customer_credit=customer_credit,
    )
    session.add(payment)
    session.flush()
    record(
        session,
        actor=actor,
        action="order.payment",
        entity="order",
        entity_id=order.number,
        after=snapshot(payment, PAYMENT_FIELDS),
    )
    if payment.amount > 0:  # a refund (a negative payment) is no payment received
        outbound_events.payment_received(session, payment, order)
        early_payment_discount(session=session, payment=payment, order=order, actor=actor)
    return payment


def early_payment_discount(
    *, session: Session, payment: Payment, order: SalesOrder, actor: Actor
) -> Payment | None:
    """The discount a payment earns: when it leaves the order's oldest open invoice owing no
    more than that invoice's early-payment discount, and came by its discount date, the rest
    is recorded as a discount (a `discount` payment row, audited) and the invoice is settled.

    None when the payment earns none (late, too little, kept as credit, no discount terms).
    """
    if payment.customer_credit or payment.method == DISCOUNT_METHOD:
        return None
    on = payment.received_at.astimezone(UTC).date()
    remaining = paid_total(session=session, order_id=row_id(order))
    for invoice in list_for_order(session=session, order_id=row_id(order)):
        credited = credited_on_invoice(session=session, invoice_id=row_id(invoice))
        owed = max(invoice.total - credited, ZERO)
        settled = min(owed, remaining)
        remaining -= settled
        due = owed - settled
        if due <= 0:
            continue
        until = invoice.discount_until
        if until is None or on > until.astimezone(UTC).date() or due > invoice.discount_amount:
            return None
        discount = Payment(
            key=f"{payment.key}:discount",
            order_id=row_id(order),
            amount=due,
            currency=invoice.currency,
            method=DISCOUNT_METHOD,
            reference=invoice.number,
            received_at=payment.received_at,
            recorded_by=actor.name,
        )
        session.add(discount)
        session.flush()
        record(
            session,
            actor=actor,
            action="order.payment_discount",
            entity="order",
            entity_id=order.number,
            after=snapshot(discount, PAYMENT_FIELDS) | {"invoice": invoice.number},
        )
        return discount
    return None


def find_payment(*, session: Session, key: str) -> Payment | None:
    """The payment recorded under this idempotency key, if any."""
    return session.exec(select(Payment).where(Payment.key == key)).first()


def payments(*, session: Session, order_id: int) -> list[Payment]:
    """The order's payments (refunds are negative), oldest first."""
    query = select(Payment).where(Payment.order_id == order_id)
    return list(session.exec(query.order_by(col(Payment.received_at), col(Payment.id))))


def still_due(*, session: Session, order: SalesOrder) -> Decimal:
    """What the order still owes: its total (or more, when invoiced for more) less credit
    notes and payments; zero or below when nothing is owed."""
    order_id = row_id(order)
    owed = max(order.total, invoiced_total(session=session, order_id=order_id))
    credited = credited_total(session=session, order_id=order_id)
    return owed - credited - paid_total(session=session, order_id=order_id)


@dataclass(frozen=True)
class OrderMoney:
    """An order's invoiced, paid and credited sums."""

    invoiced: Decimal = Decimal("0.00")
    paid: Decimal = Decimal("0.00")
    credited: Decimal = Decimal("0.00")

    @property
    def owed(self) -> Decimal:
        return self.invoiced - self.credited - self.paid


def _money_by(session: Session, keys: Sequence[int], *, by_customer: bool) -> dict[int, OrderMoney]:
    """Invoiced, paid and credited per order id (or per customer id, `by_customer`)."""
    if not keys:
        return {}
    sums: list[dict[int, Decimal]] = []
    for table, amount in (
        (Invoice, Invoice.total),
        (Payment, Payment.amount),
        (CreditNote, CreditNote.total),
    ):
        key = col(SalesOrder.customer_id) if by_customer else col(table.order_id)
        query: Any = select(key, func.sum(amount))
        if by_customer:
            query = query.join(SalesOrder, col(SalesOrder.id) == col(table.order_id))
        rows = session.exec(query.where(key.in_(list(keys))).group_by(key)).all()
        sums.append({k: round_money(Decimal(total or 0)) for k, total in rows})
    zero = Decimal("0.00")
    return {
        k: OrderMoney(sums[0].get(k, zero), sums[1].get(k, zero), sums[2].get(k, zero))
        for k in keys
    }


def money_by_order(*, session: Session, order_ids: Sequence[int]) -> dict[int, OrderMoney]:
    """Invoiced, paid and credited per order, for many orders in three grouped queries."""
    return _money_by(session, order_ids, by_customer=False)


def open_receivables_many(*, session: Session, orders: Sequence[SalesOrder]) -> dict[int, Decimal]:
    """`open_receivables` of each order's customer, that order left out (by order id), in a few
    grouped queries for the whole list."""
    order_ids = [row_id(o) for o in orders]
    per_order = _money_by(session, order_ids, by_customer=False)
    per_customer = _money_by(session, sorted({o.customer_id for o in orders}), by_customer=True)
    return {
        row_id(o): max(
            round_money(per_customer[o.customer_id].owed - per_order[row_id(o)].owed),
            Decimal("0.00"),
        )
        for o in orders
    }


def open_receivables(
    *, session: Session, customer_id: int, exclude_order_id: int | None = None
) -> Decimal:
    """What the customer owes: invoiced minus credited minus paid (never below zero)."""
    order_ids = select(SalesOrder.id).where(SalesOrder.customer_id == customer_id)
    if exclude_order_id is not None:
        order_ids = order_ids.where(SalesOrder.id != exclude_order_id)
    invoiced = session.exec(
        select(func.coalesce(func.sum(Invoice.total), 0)).where(
            col(Invoice.order_id).in_(order_ids)
        )
    ).one()
    paid = session.exec(
        select(func.coalesce(func.sum(Payment.amount), 0)).where(
            col(Payment.order_id).in_(order_ids)
        )
    ).one()
    credited = session.exec(
        select(func.coalesce(func.sum(CreditNote.total), 0)).where(
            col(CreditNote.order_id).in_(order_ids)
        )
    ).one()
    owed = Decimal(invoiced) - Decimal(credited) - Decimal(paid)
    return max(round_money(owed), Decimal("0.00"))
