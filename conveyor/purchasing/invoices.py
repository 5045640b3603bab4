"""Supplier invoices: entered against a stock purchase order and matched three ways (invoiced,
received, ordered; invoice price against the PO's); matched ones are approved as payables,
the others held with a task for the accounts staff, who approve them anyway or reject them."""

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from conveyor.audit.service import Actor, record, snapshot
from conveyor.auth.permissions import Role
from conveyor.core.errors import Conflict, Invalid, NotFound
from conveyor.core.models import round_money, utcnow
from conveyor.purchasing import matching
from conveyor.purchasing import service as purchasing_service
from conveyor.purchasing.invoice_models import (
    INVOICE_MATCH_STEP,
    SupplierInvoice,
    SupplierInvoiceCreate,
    SupplierInvoiceLine,
    SupplierInvoiceLinePublic,
    SupplierInvoicePublic,
    SupplierInvoiceStatus,
    SupplierPaymentIn,
)
from conveyor.purchasing.models import (
    PurchaseOrder,
    PurchaseOrderKind,
    PurchaseOrderLine,
    PurchaseOrderStatus,
    Supplier,
)
from conveyor.task import service as task_service
from conveyor.task.models import Task, TaskStatus

MATCH_STEP = INVOICE_MATCH_STEP
MATCH_ROLE = Role.ACCOUNTANT
MATCH_TASK_DUE = timedelta(days=2)
NOON = time(12)
AUDIT_FIELDS = ("status", "supplier_number", "net_total", "tax_total", "total", "due_date")
# Invoices whose quantities count against a purchase order line (a rejected one bills nothing).
BILLING = (
    SupplierInvoiceStatus.HELD,
    SupplierInvoiceStatus.APPROVED,
    SupplierInvoiceStatus.PAID,
)


class DuplicateSupplierInvoiceError(Conflict):
    """The supplier's invoice number was entered before."""


class SupplierInvoiceNotFoundError(NotFound):
    """No supplier invoice has that number."""


def get_by_number(
    *, session: Session, number: str, for_update: bool = False
) -> SupplierInvoice | None:
    """The supplier invoice `SINV-…`, or None."""
    query = select(SupplierInvoice).where(SupplierInvoice.number == number)
    if for_update:
        query = query.with_for_update()
    return session.exec(query).first()


def required(*, session: Session, number: str, for_update: bool = False) -> SupplierInvoice:
    """The supplier invoice, or SupplierInvoiceNotFoundError."""
    invoice = get_by_number(session=session, number=number, for_update=for_update)
    if invoice is None:
        raise SupplierInvoiceNotFoundError(f"supplier invoice {number} not found")
    return invoice


def lines(*, session: Session, invoice_id: int) -> list[SupplierInvoiceLine]:
    """The invoice's lines, in entry order."""
    return list(
        session.exec(
            select(SupplierInvoiceLine)
            .where(SupplierInvoiceLine.invoice_id == invoice_id)
            .order_by(col(SupplierInvoiceLine.id))
        )
    )


def list_invoices(
    *,
    session: Session,
    status: str | None = None,
    supplier_id: int | None = None,
    purchase_order_id: int | None = None,
    limit: int = 200,
) -> tuple[list[SupplierInvoice], int]:
    """Supplier invoices newest first (up to `limit`), and how many match."""
    query = select(SupplierInvoice)
    if status:
        query = query.where(SupplierInvoice.status == status)
    if supplier_id is not None:
        query = query.where(SupplierInvoice.supplier_id == supplier_id)
    if purchase_order_id is not None:
        query = query.where(SupplierInvoice.purchase_order_id == purchase_order_id)
    count = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(col(SupplierInvoice.id).desc()).limit(limit)).all()
    return list(rows), count


def _invoiced_before(session: Session, line_ids: list[int]) -> dict[int, int]:
    """What earlier invoices (held, approved or paid) billed of each purchase order line."""
    rows = session.exec(
        select(SupplierInvoiceLine.po_line_id, func.sum(SupplierInvoiceLine.qty))
        .join(SupplierInvoice, col(SupplierInvoice.id) == SupplierInvoiceLine.invoice_id)
        .where(col(SupplierInvoiceLine.po_line_id).in_(line_ids))
        .where(col(SupplierInvoice.status).in_(BILLING))
        .group_by(col(SupplierInvoiceLine.po_line_id))
    ).all()
    return {line_id: int(qty or 0) for line_id, qty in rows}


def received(purchase: PurchaseOrder, line: PurchaseOrderLine) -> int:
    """What the invoice is matched against as received: the receipts into stock, or for a
    drop-ship the whole line once the supplier confirmed it shipped to the customer."""
    if purchase.kind == PurchaseOrderKind.DROP_SHIP:
        return line.qty if purchase.status == PurchaseOrderStatus.SHIPPED else 0
    return line.received_qty


def _matched_lines(
    session: Session,
    purchase: PurchaseOrder,
    po_lines: dict[str, PurchaseOrderLine],
    invoice_in: SupplierInvoiceCreate,
    tolerance_percent: Decimal,
) -> list[SupplierInvoiceLine]:
    """The invoice's lines, each with its purchase order line's facts and its differences."""
    before = _invoiced_before(session, [ln.id or 0 for ln in po_lines.values()])
    new_lines: list[SupplierInvoiceLine] = []
    for line_in in invoice_in.lines:
        po_line = po_lines[line_in.sku]
        po_price = po_line.unit_price or Decimal("0")
        got = received(purchase, po_line)
        facts = matching.LineFacts(
            sku=line_in.sku,
            invoiced=line_in.qty,
            invoiced_before=before.get(po_line.id or 0, 0),
            received=got,
            ordered=po_line.qty,
            unit_price=line_in.unit_price,
            po_unit_price=po_price,
        )
        tax_rate = po_line.tax_rate if line_in.tax_rate is None else line_in.tax_rate
        net = round_money(Decimal(line_in.qty) * line_in.unit_price)
        new_lines.append(
            SupplierInvoiceLine(
                invoice_id=0,
                po_line_id=po_line.id or 0,
                sku=line_in.sku,
                qty=line_in.qty,
                unit_price=line_in.unit_price,
                tax_rate=tax_rate,
                net=net,
                tax=round_money(net * tax_rate / 100),
                ordered_qty=po_line.qty,
                received_qty=got,
                invoiced_before=facts.invoiced_before,
                po_unit_price=po_price,
                differences=matching.differences(facts, tolerance_percent),
            )
        )
    return new_lines


def enter(
    *,
    session: Session,
    invoice_in: SupplierInvoiceCreate,
    tolerance_percent: Decimal,
    actor: Actor,
) -> SupplierInvoice:
    """Record a supplier's invoice for a purchase order (stock or drop-ship) and match it.

    Due on the invoice date plus the supplier's payment terms. Each line is matched against its
    purchase order line: the quantity over the supplier's invoices for it against received (a
    drop-ship: what the supplier confirmed shipped) and ordered; the unit price against the
    PO's net price; each within `tolerance_percent`, and the stated total against the lines'.
    Matched: approved, so the journal posts it as a payable. Otherwise held, with a task for
    the accounts staff naming each difference. DuplicateSupplierInvoiceError when the
    supplier's number was entered before.
    """
    # Locked: two invoices for the same lines are matched one after the other, each counting
    # what the other billed.
    purchase = purchasing_service.get_by_number(
        session=session, number=invoice_in.purchase_order, for_update=True
    )
    if purchase is None:
        raise Invalid(f"no purchase order {invoice_in.purchase_order}")
    if purchase.status == PurchaseOrderStatus.CANCELLED:
        raise Invalid(f"{purchase.number} is cancelled: there is nothing to bill")
    supplier = session.get(Supplier, purchase.supplier_id) if purchase.supplier_id else None
    if supplier is None or supplier.id is None:
        raise Invalid(f"{purchase.number} has no supplier on record")
    currency = invoice_in.currency or purchase.currency
    if currency != purchase.currency:
        raise Invalid(
            f"{purchase.number} is in {purchase.currency}, the invoice in {currency}: "
            "supplier invoices are not converted between currencies"
        )
    _refuse_duplicate(session, supplier, invoice_in.supplier_number)
    po_lines = {
        ln.sku: ln
        for ln in purchasing_service.lines(session=session, purchase_order_id=purchase.id or 0)
    }
    unknown = sorted({ln.sku for ln in invoice_in.lines} - set(po_lines))
    if unknown:
        raise Invalid(f"{purchase.number} has no line for {', '.join(unknown)}")
    skus = [ln.sku for ln in invoice_in.lines]
    if len(set(skus)) != len(skus):
        raise Invalid("each purchase order line goes on one invoice line")
    new_lines = _matched_lines(session, purchase, po_lines, invoice_in, tolerance_percent)
    net_total = sum((ln.net for ln in new_lines), Decimal("0.00"))
    tax_total = sum((ln.tax for ln in new_lines), Decimal("0.00"))
    total = net_total + tax_total
    differences = [d for ln in new_lines for d in ln.differences]
    stated = matching.total_difference(invoice_in.total, total)
    if stated:
        differences.append(stated)
    invoice = SupplierInvoice(
        supplier_id=supplier.id,
        supplier_number=invoice_in.supplier_number,
        purchase_order_id=purchase.id or 0,
        invoice_date=invoice_in.invoice_date,
        due_date=invoice_in.invoice_date + timedelta(days=supplier.payment_terms_days),
        currency=currency,
        net_total=net_total,
        tax_total=tax_total,
        total=total,
        differences=differences,
        created_by=actor.name[:320],
    )
    try:
        with session.begin_nested():
            session.add(invoice)
            session.flush()
    except IntegrityError as exc:  # the same number entered concurrently
        raise _duplicate(supplier, invoice_in.supplier_number) from exc
    invoice.number = f"SINV-{invoice.id:06d}"
    for line in new_lines:
        line.invoice_id = invoice.id or 0
        session.add(line)
    if differences:
        task = task_service.create_about(
            session=session,
            key=f"supplier-invoice:{invoice.number}:match",
            subject=invoice.number,
            details=f"{supplier.code} invoice {invoice.supplier_number} for {purchase.number}: "
            + "; ".join(differences),
            step=MATCH_STEP,
            role=MATCH_ROLE,
            due_in=MATCH_TASK_DUE,
        )
        invoice.task_id = task.id
    else:
        invoice.status = SupplierInvoiceStatus.APPROVED
        invoice.approved_at = utcnow()
        invoice.decided_by = "match"
    session.add(invoice)
    session.flush()
    record(
        session,
        actor=actor,
        action="supplier_invoice.enter",
        entity="supplier_invoice",
        entity_id=invoice.number,
        after={
            **snapshot(invoice, AUDIT_FIELDS),
            "supplier": supplier.code,
            "purchase_order": purchase.number,
            "differences": differences,
            "task_id": invoice.task_id,
            "lines": [snapshot(ln, ["sku", "qty", "unit_price", "tax_rate"]) for ln in new_lines],
        },
    )
    return invoice


def _duplicate(supplier: Supplier, supplier_number: str) -> DuplicateSupplierInvoiceError:
    return DuplicateSupplierInvoiceError(
        f"{supplier.code}'s invoice {supplier_number} was entered before"
    )


def _refuse_duplicate(session: Session, supplier: Supplier, supplier_number: str) -> None:
    found = session.exec(
        select(SupplierInvoice.number)
        .where(SupplierInvoice.supplier_id == supplier.id)
        .where(SupplierInvoice.supplier_number == supplier_number)
    ).first()
    if found is not None:
        raise DuplicateSupplierInvoiceError(
            f"{supplier.code}'s invoice {supplier_number} was entered before, as {found}"
        )


def number_of_match_task(task: Task) -> str | None:
    """The supplier invoice's number when `task` is a held invoice's match task, else None."""
    if task.step != MATCH_STEP or task.order_id is not None or not task.subject:
        return None
    if task.key != f"supplier-invoice:{task.subject}:match":
        return None
    return task.subject


def decide(
    *, session: Session, number: str, approve: bool, reason: str, actor: Actor
) -> SupplierInvoice:
    """Approve a held invoice anyway (it is posted as a payable) or reject it; `reason` is
    required and audited, and the invoice's task is completed with the decision."""
    if not reason.strip():
        raise Invalid("give the reason for the decision")
    invoice = required(session=session, number=number, for_update=True)
    if invoice.status != SupplierInvoiceStatus.HELD:
        raise Conflict(f"{number} is {invoice.status}: only a held invoice is decided")
    before = snapshot(invoice, AUDIT_FIELDS)
    now = utcnow()
    invoice.status = SupplierInvoiceStatus.APPROVED if approve else SupplierInvoiceStatus.REJECTED
    invoice.approved_at = now if approve else None
    invoice.decided_by = actor.name[:320]
    invoice.decision_reason = reason.strip()[:2000]
    session.add(invoice)
    task = session.get(Task, invoice.task_id) if invoice.task_id else None
    if task is not None and task.status == TaskStatus.OPEN:
        task_service.mark_completed(
            session=session,
            task_id=task.id or 0,
            outcome="approved" if approve else "rejected",
            note=invoice.decision_reason,
            actor=actor.name,
        )
    session.flush()
    record(
        session,
        actor=actor,
        action="supplier_invoice.approve" if approve else "supplier_invoice.reject",
        entity="supplier_invoice",
        entity_id=number,
        before=before,
        after={
            **snapshot(invoice, AUDIT_FIELDS),
            "reason": invoice.decision_reason,
            "differences": invoice.differences,
        },
    )
    return invoice


def pay(
    *, session: Session, number: str, payment_in: SupplierPaymentIn, actor: Actor
) -> SupplierInvoice:
    """Record that an approved invoice was paid to the supplier in full (the journal posts it:
    accounts payable against the bank)."""
    invoice = required(session=session, number=number, for_update=True)
    if invoice.status != SupplierInvoiceStatus.APPROVED:
        raise Conflict(f"{number} is {invoice.status}: only an approved invoice is paid")
    on = payment_in.paid_on or utcnow().date()
    if on > utcnow().date():
        raise Invalid(f"{number}: a payment is recorded once made, not dated {on}")
    if invoice.approved_at is not None and on < invoice.approved_at.date():
        raise Invalid(f"{number} was approved on {invoice.approved_at.date()}: paid before that?")
    before = snapshot(invoice, AUDIT_FIELDS)
    invoice.status = SupplierInvoiceStatus.PAID
    # A payment dated today is stamped now; one dated another day at noon UTC of that day.
    invoice.paid_at = utcnow() if on == utcnow().date() else datetime.combine(on, NOON, tzinfo=UTC)
    invoice.payment_method = payment_in.method
    invoice.payment_reference = payment_in.reference
    session.add(invoice)
    session.flush()
    record(
        session,
        actor=actor,
        action="supplier_invoice.pay",
        entity="supplier_invoice",
        entity_id=number,
        before=before,
        after={
            **snapshot(invoice, AUDIT_FIELDS),
            "paid_at": invoice.paid_at,
            "method": invoice.payment_method,
            "reference": invoice.payment_reference,
        },
    )
    return invoice


def to_public(*, session: Session, invoice: SupplierInvoice) -> SupplierInvoicePublic:
    """The invoice with its lines and each line's match, as the API shows it."""
    supplier = session.get(Supplier, invoice.supplier_id)
    purchase = session.get(PurchaseOrder, invoice.purchase_order_id)
    return SupplierInvoicePublic(
        **invoice.model_dump(
            exclude={"id", "supplier_id", "purchase_order_id", "payment_method", "number"}
        ),
        number=invoice.number or "",
        supplier=supplier.code if supplier else "",
        purchase_order=(purchase.number or "") if purchase else "",
        matched=not invoice.differences,
        lines=[
            SupplierInvoiceLinePublic(
                **ln.model_dump(exclude={"id", "invoice_id", "po_line_id"}),
                matched=not ln.differences,
            )
            for ln in lines(session=session, invoice_id=invoice.id or 0)
        ],
    )
