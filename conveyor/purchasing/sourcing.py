"""Where an order line ships from: stock or its supplier (drop-ship), decided when the order is
placed, and which supplier ships a drop-ship line."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session

from conveyor.core.errors import Invalid
from conveyor.inventory import service as inventory_service
from conveyor.inventory.models import Product, may_drop_ship
from conveyor.purchasing import suppliers as supplier_service
from conveyor.purchasing.models import Supplier, SupplierQuote


class DropShipRefusedError(Invalid):
    """A line asked to be drop-shipped whose product is not drop-ship allowable."""


@dataclass(frozen=True)
class LineSource:
    """A line to decide: its SKU and quantity, and whether the caller asked for drop-ship."""

    sku: str
    qty: int
    asked: bool = False


@dataclass(frozen=True)
class DropShipper:
    """Who ships a drop-ship line: the supplier's address, its record, its price list quote."""

    email: str
    supplier: Supplier | None
    quote: SupplierQuote | None


def shipper(*, session: Session, product: Product, qty: int, on: date) -> DropShipper | None:
    """Who ships `qty` of a drop-ship line of the product (None: nobody can).

    A drop-ship product: its supplier, as always. A drop-ship allowable one: the supplier the
    price lists name for the quantity (a preferred one, else the cheapest), else the product's
    own supplier address.
    """
    email = product.supplier_email or ""
    if product.drop_ship:
        return DropShipper(email, supplier_service.get_by_email(session=session, email=email), None)
    quote = supplier_service.quote_for(session=session, sku=product.sku, qty=qty, on=on)
    if quote is not None:
        supplier = supplier_service.required(session=session, code=quote.supplier)
        return DropShipper(supplier.email, supplier, quote)
    if email:
        return DropShipper(email, supplier_service.get_by_email(session=session, email=email), None)
    return None


def decide(
    *, session: Session, products: dict[str, Product], lines: Sequence[LineSource], on: date
) -> list[bool]:
    """Per line, True when its supplier ships it: always for a drop-ship product; for a
    drop-ship allowable one when asked, or when the available stock does not cover it (the
    order's earlier lines of the SKU counted first) and a supplier can ship it.

    DropShipRefusedError for a line asked that may not be drop-shipped, or has no supplier.
    """
    wanted: dict[str, int] = {}
    sources = []
    for line in lines:
        product = products[line.sku]
        if line.asked and not may_drop_ship(product):
            raise DropShipRefusedError(
                f"{line.sku} is not drop-ship allowable: it ships from stock"
            )
        if product.drop_ship or not may_drop_ship(product):
            sources.append(product.drop_ship)
            continue
        can_ship = shipper(session=session, product=product, qty=line.qty, on=on) is not None
        if line.asked and not can_ship:
            raise DropShipRefusedError(f"no supplier ships {line.sku}: it ships from stock")
        if line.asked:
            sources.append(True)
            continue
        need = wanted.get(line.sku, 0) + line.qty
        short = inventory_service.shortages(
            session=session, needs=[inventory_service.StockNeed(sku=line.sku, qty=need)]
        )
        if short and can_ship:
            sources.append(True)
        else:
            wanted[line.sku] = need
            sources.append(False)
    return sources
