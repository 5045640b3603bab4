"""The three-way match of a supplier invoice line: invoiced against received and ordered
quantities, and its unit price against the purchase order's, within a tolerance."""

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class LineFacts:
    """What one invoice line is compared against."""

    sku: str
    invoiced: int  # on this invoice
    invoiced_before: int  # on the supplier's earlier invoices for the line (not rejected)
    received: int
    ordered: int
    unit_price: Decimal  # the invoice's
    po_unit_price: Decimal  # the purchase order's net unit price


def _beyond(amount: Decimal, limit: Decimal, tolerance_percent: Decimal) -> bool:
    # More than `limit` plus the tolerance (a percent of it).
    return amount * 100 > limit * (100 + tolerance_percent)


def differences(facts: LineFacts, tolerance_percent: Decimal) -> list[str]:
    """Each difference beyond the tolerance, said in a sentence; empty when the line matches.

    Quantities add up over the supplier's invoices for the line, so two invoices cannot bill
    the same goods twice. A price differs when it is more than the tolerance away (either way)
    from the purchase order's.
    """
    found = []
    billed = facts.invoiced + facts.invoiced_before
    earlier = f" ({facts.invoiced_before} on earlier invoices)" if facts.invoiced_before else ""
    if _beyond(Decimal(billed), Decimal(facts.received), tolerance_percent):
        found.append(f"{facts.sku}: {billed} invoiced{earlier}, {facts.received} received")
    if _beyond(Decimal(billed), Decimal(facts.ordered), tolerance_percent):
        found.append(f"{facts.sku}: {billed} invoiced{earlier}, {facts.ordered} ordered")
    gap = abs(facts.unit_price - facts.po_unit_price)
    if gap * 100 > facts.po_unit_price * tolerance_percent:
        found.append(
            f"{facts.sku}: unit price {facts.unit_price.normalize():f}, "
            f"purchase order {facts.po_unit_price.normalize():f}"
        )
    return found


def total_difference(stated: Decimal | None, computed: Decimal) -> str | None:
    """The invoice's printed total against what its lines add up to (to the cent)."""
    if stated is None or stated == computed:
        return None
    return f"the invoice states a total of {stated:.2f}, its lines add up to {computed:.2f}"
