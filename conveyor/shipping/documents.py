"""A shipment's documents: its delivery note (the packing slip with carrier and tracking)."""

from sqlmodel import Session

from conveyor.customer.models import Customer
from conveyor.inventory import pdf as warehouse_pdf
from conveyor.inventory.documents import DocumentLine, ShipmentDocument, ship_to_lines
from conveyor.order.models import SalesOrder
from conveyor.shipping import service as shipping_service
from conveyor.shipping.models import Shipment


def delivery_note_pdf(session: Session, order: SalesOrder, shipment: Shipment) -> bytes:
    """The packing slip of this shipment, with its carrier and tracking."""
    customer = session.get(Customer, order.customer_id)
    count = len(shipping_service.for_order(session=session, order_id=order.id or 0))
    doc = ShipmentDocument(
        order=order,
        customer=customer,
        shipment=shipment.number,
        shipments=count,
        lines=[
            DocumentLine(line.sku, line.name, line.qty, shipment.warehouse or "", "", None)
            for line in shipping_service.lines(session=session, shipment_id=shipment.id or 0)
        ],
        ship_to=ship_to_lines(order, customer),
    )
    details = [
        f"{label}: {value}"
        for label, value in (
            ("Carrier", " ".join(p for p in (shipment.carrier, shipment.service) if p)),
            ("Tracking", shipment.tracking),
            ("Shipped", f"{shipment.shipped_at:%Y-%m-%d}" if shipment.shipped_at else None),
        )
        if value
    ]
    return warehouse_pdf.packing_slip(doc, title="Delivery note", details=details)
