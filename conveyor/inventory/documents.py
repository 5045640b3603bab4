"""What the warehouse works from: an order's pick list and packing slip, per shipment."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, col, select

from conveyor.customer.models import Customer
from conveyor.inventory import service as inventory_service
from conveyor.inventory.models import PickListLine
from conveyor.order.models import SalesOrder


@dataclass(frozen=True)
class DocumentLine:
    """One line to pick and pack: what, how many, from which bin, staged where."""

    sku: str
    name: str
    qty: int
    warehouse: str
    location: str
    staging_location: str | None


@dataclass(frozen=True)
class ShipmentDocument:
    """One shipment of an order as the pick list and the packing slip print it."""

    order: SalesOrder
    customer: Customer | None
    shipment: int
    shipments: int
    lines: list[DocumentLine]
    ship_to: list[str]

    @property
    def number(self) -> str:
        """The order number."""
        return self.order.number or ""

    @property
    def total_qty(self) -> int:
        """How many pieces the shipment holds."""
        return sum(line.qty for line in self.lines)

    @property
    def requested(self) -> date | None:
        """The day the customer wants the goods, if they said."""
        return self.order.requested_delivery_date


def ship_to_lines(order: SalesOrder, customer: Customer | None) -> list[str]:
    """The delivery address as printed: the order's snapshot, else the customer's name."""
    city = " ".join(p for p in (order.ship_to_postcode, order.ship_to_city) if p)
    parts = [
        order.ship_to_name or (customer.name if customer else None),
        order.ship_to_line1,
        order.ship_to_line2,
        ", ".join(p for p in (city, order.ship_to_region) if p),
        order.ship_to_country or (customer.country if customer else None),
    ]
    return [part for part in parts if part]


def pick_lines_by_order(
    *, session: Session, order_ids: Sequence[int]
) -> dict[int, list[PickListLine]]:
    """The latest shipment's pick list lines of each of these orders, by warehouse and bin."""
    if not order_ids:
        return {}
    rows = session.exec(
        select(PickListLine)
        .where(col(PickListLine.order_id).in_(list(order_ids)))
        .order_by(
            col(PickListLine.order_id),
            col(PickListLine.shipment).desc(),
            col(PickListLine.warehouse),
            col(PickListLine.location),
            col(PickListLine.sku),
        )
    ).all()
    found: dict[int, list[PickListLine]] = {}
    for row in rows:
        lines = found.setdefault(row.order_id, [])
        if not lines or lines[0].shipment == row.shipment:
            lines.append(row)
    return found


def document_lines(*, session: Session, rows: Sequence[PickListLine]) -> list[DocumentLine]:
    """Pick list rows with their products' names."""
    products = inventory_service.get_many(session=session, skus=[row.sku for row in rows])
    return [
        DocumentLine(
            sku=row.sku,
            name=products[row.sku].name if row.sku in products else "",
            qty=row.qty,
            warehouse=row.warehouse,
            location=row.location,
            staging_location=row.staging_location,
        )
        for row in rows
    ]


def shipment_document(
    *, session: Session, order: SalesOrder, shipment: int | None = None
) -> ShipmentDocument | None:
    """One shipment's pick list (the latest one unless asked); None when it has none yet."""
    rows = inventory_service.pick_list(session=session, order_number=order.number or "") or []
    shipments = max((row.shipment for row in rows), default=0)
    wanted = shipment if shipment is not None else shipments
    picked = [row for row in rows if row.shipment == wanted]
    if not picked:
        return None
    customer = session.get(Customer, order.customer_id)
    return ShipmentDocument(
        order=order,
        customer=customer,
        shipment=wanted,
        shipments=shipments,
        lines=document_lines(session=session, rows=picked),
        ship_to=ship_to_lines(order, customer),
    )
