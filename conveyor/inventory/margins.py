"""Margin per order line and order: revenue net of tax against the cost of the goods.

A line's goods cost what their packs took out of stock (the average at packing, on the ledger)
and, for what is not packed yet, the SKU's moving-average cost now; a SKU with neither (no cost
ever recorded: average 0 and no packed cost) has no known cost, and its line no margin.
"""

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from sqlmodel import Session, col, select

from conveyor.core.models import round_money
from conveyor.inventory.models import Product, StockMovement
from conveyor.order.models import OrderLine, SalesOrder

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class LineMargin:
    line_id: int
    revenue: Decimal
    cost: Decimal | None
    margin: Decimal | None
    percent: Decimal | None  # of revenue, one decimal


@dataclass(frozen=True)
class OrderMargin:
    lines: dict[int, LineMargin]
    revenue: Decimal
    cost: Decimal
    margin: Decimal
    percent: Decimal | None
    complete: bool  # every line's cost is known


def _percent(margin: Decimal, revenue: Decimal) -> Decimal | None:
    return (margin * 100 / revenue).quantize(Decimal("0.1")) if revenue else None


def for_order(*, session: Session, order: SalesOrder) -> OrderMargin:
    """The margin of each of the order's lines and of the order (lines with a known cost)."""
    lines = list(
        session.exec(
            select(OrderLine).where(OrderLine.order_id == order.id).order_by(col(OrderLine.id))
        )
    )
    skus = {line.sku for line in lines}
    averages = {
        p.sku: p.average_cost
        for p in session.exec(select(Product).where(col(Product.sku).in_(skus)))
    }
    packed_qty: dict[str, int] = defaultdict(int)
    packed_cost: dict[str, Decimal] = defaultdict(Decimal)
    for pack in session.exec(
        select(StockMovement)
        .where(StockMovement.order_number == order.number)
        .where(StockMovement.kind == "pack")
    ):
        packed_qty[pack.sku] += pack.qty
        packed_cost[pack.sku] += Decimal(pack.qty) * (pack.unit_cost or Decimal(0))
    ordered: dict[str, int] = defaultdict(int)
    for line in lines:
        ordered[line.sku] += line.qty
    margins: dict[int, LineMargin] = {}
    for line in lines:
        revenue = line.line_total - (line.tax_amount if order.prices_include_tax else ZERO)
        average = averages.get(line.sku, Decimal(0))
        total_qty = max(ordered[line.sku], packed_qty[line.sku])
        sku_cost = packed_cost[line.sku] + Decimal(total_qty - packed_qty[line.sku]) * average
        if not sku_cost:
            margins[line.id or 0] = LineMargin(line.id or 0, revenue, None, None, None)
            continue
        cost = round_money(sku_cost * line.qty / total_qty) if total_qty else ZERO
        margin = revenue - cost
        margins[line.id or 0] = LineMargin(
            line.id or 0, revenue, cost, margin, _percent(margin, revenue)
        )
    known = [m for m in margins.values() if m.cost is not None]
    revenue = sum((m.revenue for m in known), ZERO)
    cost = sum((m.cost or ZERO for m in known), ZERO)
    return OrderMargin(
        lines=margins,
        revenue=revenue,
        cost=cost,
        margin=revenue - cost,
        percent=_percent(revenue - cost, revenue),
        complete=len(known) == len(margins),
    )
