"""Moving-average cost: what a unit of a SKU cost, re-weighed by every receipt with a cost.

The average is company-wide per SKU (the product row), in the product's currency, kept to four
decimals and rounded half-up once per receipt:

    new average = (on-hand before x average before + received x unit cost) / (on-hand after)

When nothing (or less than nothing) was on hand before, or no cost was known yet (an average
of 0: opening stock and plain receipts carry none), the receipt's unit cost becomes the
average. A receipt without a cost (a plain stock receipt, a return) leaves the average as it is,
and so do packs, moves and adjustments: goods leave at the average they were carried at.
Cost of goods sold is the pack's quantity x the average at packing (stored on its ledger entry),
rounded half-up to cents when the journal posts it.
"""

from decimal import ROUND_HALF_UP, Decimal

COST_PLACES = Decimal("0.0001")


def round_cost(amount: Decimal) -> Decimal:
    """A unit cost rounded half-up to four decimals."""
    return Decimal(amount).quantize(COST_PLACES, rounding=ROUND_HALF_UP)


def moving_average(*, on_hand: int, average: Decimal, qty: int, unit_cost: Decimal) -> Decimal:
    """The average cost after receiving `qty` at `unit_cost` onto `on_hand` at `average`."""
    if on_hand <= 0 or not average:
        return round_cost(unit_cost)
    total = Decimal(on_hand) * average + Decimal(qty) * unit_cost
    return round_cost(total / Decimal(on_hand + qty))
