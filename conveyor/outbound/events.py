"""The outbound events, one function each: the payload a subscriber gets, emitted with its key.

Each is called by the service that writes the effect, in its transaction (so a rolled-back
effect announces nothing), and keyed by the effect, so a retried effect announces it once.
Money is a string with two decimals, times ISO 8601 UTC.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlmodel import Session

from conveyor.invoice.models import Invoice, Payment
from conveyor.order.models import OrderLine, SalesOrder
from conveyor.outbound.models import EventType, OutboundEvent
from conveyor.outbound.service import emit


def _order(order: SalesOrder) -> dict[str, Any]:
    return {
        "number": order.number,
        "status": order.status,
        "channel": order.channel,
        "customer_id": order.customer_id,
        "external_ref": order.external_ref,
        "customer_po": order.customer_po,
        "currency": order.currency,
        "subtotal": str(order.subtotal),
        "charges": str(order.charges_total),
        "tax": str(order.tax_total),
        "total": str(order.total),
    }


def order_created(session: Session, order: SalesOrder, lines: Sequence[OrderLine]) -> OutboundEvent:
    """`order.created`: an order (or quote) recorded, with its lines."""
    payload = _order(order) | {
        "lines": [
            {
                "sku": line.sku,
                "name": line.name,
                "qty": line.qty,
                "unit_price": str(line.unit_price),
                "line_total": str(line.line_total),
            }
            for line in lines
        ]
    }
    return emit(session, EventType.ORDER_CREATED, payload, key=f"order.created:{order.number}")


def order_cancelled(session: Session, order: SalesOrder, reason: str | None) -> OutboundEvent:
    """`order.cancelled`: the order will not go ahead."""
    payload = _order(order) | {"reason": reason or None}
    return emit(session, EventType.ORDER_CANCELLED, payload, key=f"order.cancelled:{order.number}")


def invoice_issued(session: Session, invoice: Invoice, order: SalesOrder) -> OutboundEvent:
    """`invoice.issued`: an invoice (of the whole order or of one shipment) numbered and issued."""
    payload = {
        "number": invoice.number,
        "order_number": order.number,
        "currency": invoice.currency,
        "subtotal": str(invoice.subtotal),
        "charges": str(invoice.charges),
        "tax": str(invoice.tax),
        "total": str(invoice.total),
        "prices_include_tax": invoice.prices_include_tax,
        "issued_at": invoice.issued_at.isoformat(),
        "due_at": invoice.due_at.isoformat() if invoice.due_at else None,
        "discount_until": invoice.discount_until.isoformat() if invoice.discount_until else None,
        "discount_amount": str(invoice.discount_amount),
    }
    return emit(session, EventType.INVOICE_ISSUED, payload, key=f"invoice.issued:{invoice.number}")


def payment_received(session: Session, payment: Payment, order: SalesOrder) -> OutboundEvent:
    """`payment.received`: money recorded against the order."""
    payload = {
        "order_number": order.number,
        "amount": str(payment.amount),
        "currency": payment.currency,
        "method": payment.method,
        "reference": payment.reference,
        "customer_credit": payment.customer_credit,
        "received_at": payment.received_at.isoformat(),
    }
    return emit(session, EventType.PAYMENT_RECEIVED, payload, key=f"payment.received:{payment.key}")


class ShipmentLike(Protocol):
    """What the shipment events read of a shipment (conveyor/shipping's `Shipment`)."""

    key: str
    number: int
    warehouse: str | None
    carrier: str | None
    service: str | None
    tracking: str | None
    tracking_url: str | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    signed_by: str | None


class ShipmentLineLike(Protocol):
    sku: str
    name: str
    qty: int


def _shipment(shipment: ShipmentLike, lines: Sequence[ShipmentLineLike]) -> dict[str, Any]:
    return {
        "number": shipment.number,
        "warehouse": shipment.warehouse,
        "carrier": shipment.carrier,
        "service": shipment.service,
        "tracking": shipment.tracking,
        "tracking_url": shipment.tracking_url,
        "shipped_at": shipment.shipped_at,
        "delivered_at": shipment.delivered_at,
        "signed_by": shipment.signed_by,
        "lines": [{"sku": ln.sku, "name": ln.name, "qty": ln.qty} for ln in lines],
    }


def order_shipped(
    session: Session,
    order: SalesOrder,
    shipment: ShipmentLike,
    lines: Sequence[ShipmentLineLike],
) -> OutboundEvent:
    """`order.shipped`: one shipment left (carrier, tracking, its lines), once per shipment."""
    payload = _order(order) | {"shipment": _shipment(shipment, lines)}
    return emit(session, EventType.ORDER_SHIPPED, payload, key=f"order.shipped:{shipment.key}")


def order_delivered(
    session: Session,
    order: SalesOrder,
    shipment: ShipmentLike,
    lines: Sequence[ShipmentLineLike],
) -> OutboundEvent:
    """`order.delivered`: one shipment arrived (when, who signed), once per shipment."""
    payload = _order(order) | {"shipment": _shipment(shipment, lines)}
    return emit(session, EventType.ORDER_DELIVERED, payload, key=f"order.delivered:{shipment.key}")
