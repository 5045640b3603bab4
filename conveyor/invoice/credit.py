"""Partial credit notes: credit returned goods at the prices and tax rates they were invoiced at."""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func
from sqlmodel import Session, col, select

from conveyor.core.models import round_money
from conveyor.invoice import service as invoice_service
from conveyor.invoice.models import CreditNote, CreditNoteLine, Invoice, InvoiceLine
from conveyor.order.models import SalesOrder

ZERO = Decimal("0.00")


class NotInvoicedError(Exception):
    """Goods to credit were never invoiced (or are credited already)."""


@dataclass
class _Take:
    line: InvoiceLine
    qty: int
    amount: Decimal
    tax: Decimal


@dataclass
class _Credited:
    qty: int = 0
    amount: Decimal = ZERO
    tax: Decimal = ZERO


def list_by_key_prefix(*, session: Session, prefix: str) -> list[CreditNote]:
    """The credit notes whose key starts with `prefix`, oldest first."""
    return list(
        session.exec(
            select(CreditNote)
            .where(col(CreditNote.key).startswith(prefix))
            .order_by(col(CreditNote.id))
        )
    )


def note_lines(*, session: Session, credit_note_id: int) -> list[CreditNoteLine]:
    """The lines of a partial credit note (none for a credit note of a whole invoice)."""
    return list(
        session.exec(
            select(CreditNoteLine)
            .where(CreditNoteLine.credit_note_id == credit_note_id)
            .order_by(col(CreditNoteLine.id))
        )
    )


def credit_goods(
    *,
    session: Session,
    key: str,
    order: SalesOrder,
    goods: Sequence[tuple[str, int]],
    reason: str = "",
) -> list[CreditNote]:
    """Credit `goods` (sku, qty) once per `key`: one credit note per invoice the goods are on.

    Each SKU is taken from the order's invoice lines oldest first, as far as they are not
    credited yet. A line credited in part gets its share of the invoiced amount and tax, rounded
    once; the credit that uses up a line takes exactly what is left of it, so crediting all goods
    of an invoice gives back its goods to the cent.
    """
    done = list_by_key_prefix(session=session, prefix=f"{key}:")
    if done:
        return done
    invoices = {
        invoice.id: invoice
        for invoice in invoice_service.list_for_order(session=session, order_id=order.id or 0)
    }
    notes = []
    for invoice_id, takes in sorted(_plan(session, invoices, goods).items()):
        invoice = invoices[invoice_id]
        notes.append(
            invoice_service.create_credit_note(
                session=session,
                key=f"{key}:{invoice.number}",
                invoice=invoice,
                reason=reason,
                lines=[_note_line(take) for take in takes],
            )
        )
    return notes


def credit_goods_total(
    *, session: Session, order: SalesOrder, goods: Sequence[tuple[str, int]]
) -> Decimal:
    """What `credit_goods` would credit for `goods` now (the notes' totals), issuing nothing."""
    invoices = {
        invoice.id: invoice
        for invoice in invoice_service.list_for_order(session=session, order_id=order.id or 0)
    }
    total = ZERO
    for invoice_id, takes in _plan(session, invoices, goods).items():
        subtotal = round_money(sum((take.amount for take in takes), ZERO))
        tax = round_money(sum((take.tax for take in takes), ZERO))
        total += subtotal if invoices[invoice_id].prices_include_tax else subtotal + tax
    return round_money(total)


def _plan(
    session: Session, invoices: dict[int | None, Invoice], goods: Sequence[tuple[str, int]]
) -> dict[int, list[_Take]]:
    # Invoices credited in full (a credit note without lines) have nothing left to credit.
    whole = set(
        session.exec(
            select(CreditNote.invoice_id)
            .where(col(CreditNote.invoice_id).in_(list(invoices)))
            .where(~col(CreditNote.id).in_(select(CreditNoteLine.credit_note_id)))
        )
    )
    lines = list(
        session.exec(
            select(InvoiceLine)
            .where(col(InvoiceLine.invoice_id).in_([i for i in invoices if i not in whole]))
            .where(InvoiceLine.kind == "item")
            .order_by(col(InvoiceLine.invoice_id), col(InvoiceLine.id))
        )
    )
    credited = _credited(session, [line.id for line in lines if line.id is not None])
    plan: dict[int, list[_Take]] = defaultdict(list)
    for sku, qty in goods:
        remaining = qty
        for line in (ln for ln in lines if ln.sku == sku):
            before = credited[line.id or 0]
            take = min(remaining, line.qty - before.qty)
            if take <= 0:
                continue
            if before.qty + take >= line.qty:  # the rest of the line: exactly what is left
                amount, tax = line.amount - before.amount, line.tax_amount - before.tax
            else:
                amount = round_money(line.amount * take / line.qty)
                tax = round_money(line.tax_amount * take / line.qty)
            plan[line.invoice_id].append(_Take(line, take, amount, tax))
            credited[line.id or 0] = _Credited(
                before.qty + take, before.amount + amount, before.tax + tax
            )
            remaining -= take
            if remaining == 0:
                break
        if remaining:
            raise NotInvoicedError(f"{remaining} x {sku} not invoiced (or credited already)")
    return plan


def _credited(session: Session, line_ids: list[int]) -> dict[int, _Credited]:
    credited: dict[int, _Credited] = defaultdict(_Credited)
    if not line_ids:
        return credited
    rows = session.exec(
        select(
            CreditNoteLine.invoice_line_id,
            func.sum(CreditNoteLine.qty),
            func.sum(CreditNoteLine.amount),
            func.sum(CreditNoteLine.tax_amount),
        )
        .where(col(CreditNoteLine.invoice_line_id).in_(line_ids))
        .group_by(col(CreditNoteLine.invoice_line_id))
    )
    for line_id, qty, amount, tax in rows:
        assert line_id is not None  # only the lines asked for, by id
        credited[line_id] = _Credited(int(qty), round_money(amount), round_money(tax))
    return credited


def _note_line(take: _Take) -> CreditNoteLine:
    """The credit note line for goods taken from one invoice line (its note is set on issue)."""
    # No credit_note_id yet: the pydantic plugin calls it required, but a table model's __init__
    # does not validate; create_credit_note sets it.
    return CreditNoteLine(  # type: ignore[call-arg]
        invoice_line_id=take.line.id,
        kind=take.line.kind,
        sku=take.line.sku,
        description=take.line.description,
        qty=take.qty,
        unit_price=take.line.unit_price,
        amount=take.amount,
        tax_class=take.line.tax_class,
        tax_rate=take.line.tax_rate,
        tax_amount=take.tax,
    )
