"""The pick list and the packing slip of a shipment as PDF documents."""

from collections.abc import Sequence

from conveyor.core import pdf
from conveyor.core.pdf import Column
from conveyor.inventory.documents import ShipmentDocument

PICK_COLUMNS = (
    Column(26, "Warehouse"),
    Column(26, "Bin"),
    Column(34, "SKU"),
    Column(62, "Product"),
    Column(14, "Qty", "R"),
    Column(24, "Staging"),
)
SLIP_COLUMNS = (Column(40, "SKU"), Column(122, "Product"), Column(24, "Qty", "R"))


def _heading(doc: ShipmentDocument) -> list[str]:
    details = [f"Order: {doc.number}", f"Shipment: {doc.shipment} of {doc.shipments}"]
    if doc.order.customer_po:
        details.append(f"Customer PO: {doc.order.customer_po}")
    if doc.requested:
        details.append(f"Requested delivery: {doc.requested:%Y-%m-%d}")
    return details


def pick_list(doc: ShipmentDocument) -> bytes:
    """What to pick for the shipment, by warehouse and bin, and where to stage it."""
    out = pdf.document(f"Pick list {doc.number}")
    pdf.lines(out, [*_heading(doc), f"Customer: {doc.customer.name if doc.customer else ''}"])
    out.ln(4)
    rows = [
        (ln.warehouse, ln.location, ln.sku, ln.name, ln.qty, ln.staging_location or "")
        for ln in doc.lines
    ]
    pdf.table(out, PICK_COLUMNS, rows)
    out.ln(3)
    pdf.lines(out, [f"{len(doc.lines)} lines, {doc.total_qty} pieces"])
    return pdf.output(out)


def packing_slip(
    doc: ShipmentDocument, *, title: str = "Packing slip", details: Sequence[str] = ()
) -> bytes:
    """What goes into the parcel, and to whom (the delivery note adds carrier and tracking)."""
    out = pdf.document(f"{title} {doc.number}")
    pdf.lines(out, ["Ship to:", *doc.ship_to], bold_first=True)
    out.ln(3)
    pdf.lines(out, [*_heading(doc), *details])
    out.ln(4)
    pdf.table(out, SLIP_COLUMNS, [(ln.sku, ln.name, ln.qty) for ln in doc.lines])
    out.ln(3)
    pdf.lines(out, [f"{doc.total_qty} pieces"])
    return pdf.output(out)
