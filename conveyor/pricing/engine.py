"""The pricing engine: pure functions from agreements, rates and lines to a priced order.

Rules, in order:
- A line's unit price comes from the one best line agreement that applies (item / item group /
  all items x customer / customer group / all customers, quantity break reached, effective on the
  order date, same currency). Best = highest priority; on a tie the more specific item side (SKU
  beats item group beats all items), then the more specific customer side (customer beats
  customer group beats everyone), as trade agreements are searched in Dynamics AX; then the larger
  quantity break, then the lower resulting price, then the older agreement. No agreement → the
  product's list price. A price given explicitly (a store's own price) bypasses all of this.
- The unit price is a price in the currency's minor unit; a discount never takes it below zero.
- An order-level discount (percent) comes from the best order agreement whose minimum amount the
  goods reach; it reduces each priced line, and each line is then rounded once, half-up.
- Tax is per line (goods and charges) at the rate for its tax class and the destination country,
  rounded once per line; with tax-inclusive prices the tax is the part already in the amount.
- subtotal = sum of rounded lines; total = subtotal + charges (+ taxes when prices exclude tax).
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

HUNDRED = Decimal(100)
ZERO = Decimal(0)
# Currencies without cents. Amounts are stored with two decimals, so 3-decimal currencies
# (BHD, KWD...) are not supported.
ZERO_DECIMAL_CURRENCIES = frozenset({"JPY", "KRW", "CLP", "ISK", "VND", "HUF"})


@dataclass(frozen=True)
class Money:
    """An amount with its currency."""

    amount: Decimal
    currency: str

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"


def minor_unit(currency: str) -> Decimal:
    """The smallest amount of the currency (0.01, or 1 for currencies without cents)."""
    return Decimal(1) if currency.upper() in ZERO_DECIMAL_CURRENCIES else Decimal("0.01")


def round_money(amount: Decimal, currency: str = "USD") -> Decimal:
    """Round half-up to the currency's minor unit, then show it with two decimals."""
    rounded = Decimal(amount).quantize(minor_unit(currency), rounding=ROUND_HALF_UP)
    return rounded.quantize(Decimal("0.01"))


@dataclass(frozen=True)
class Agreement:
    """A price agreement as the engine sees it."""

    id: int
    name: str
    scope: str = "line"
    priority: int = 0
    sku: str | None = None
    item_group: str | None = None
    customer_id: int | None = None
    customer_group: str | None = None
    min_qty: int = 1
    min_amount: Decimal | None = None
    currency: str = "USD"
    valid_from: date | None = None
    valid_to: date | None = None
    unit_price: Decimal | None = None
    discount_percent: Decimal | None = None
    discount_amount: Decimal | None = None
    active: bool = True


@dataclass(frozen=True)
class CustomerFacts:
    id: int
    group: str
    country: str


@dataclass(frozen=True)
class LineInput:
    """One ordered line with what pricing needs to know about its product."""

    sku: str
    qty: int
    list_price: Decimal
    currency: str = "USD"
    item_group: str | None = None
    tax_class: str = "standard"
    explicit_price: Decimal | None = None


@dataclass(frozen=True)
class ChargeInput:
    """A shipping or special charge (amount as the prices are: net, or gross when inclusive)."""

    kind: str
    description: str
    amount: Decimal
    tax_class: str = "standard"


@dataclass(frozen=True)
class TaxRule:
    tax_class: str
    country: str  # "*" = any
    rate: Decimal  # percent
    name: str = ""


@dataclass(frozen=True)
class ShippingRule:
    id: int
    name: str
    amount: Decimal
    currency: str = "USD"
    country: str = "*"
    customer_group: str | None = None
    free_from: Decimal | None = None
    tax_class: str = "standard"
    priority: int = 0


@dataclass(frozen=True)
class PricedLine:
    sku: str
    qty: int
    list_price: Decimal
    unit_price: Decimal
    discount_amount: Decimal  # qty x unit price - line total (the order discount)
    line_total: Decimal
    price_rule: str
    tax_class: str
    tax_rate: Decimal
    tax_amount: Decimal


@dataclass(frozen=True)
class PricedCharge:
    kind: str
    description: str
    amount: Decimal
    tax_class: str
    tax_rate: Decimal
    tax_amount: Decimal


@dataclass(frozen=True)
class PricedOrder:
    currency: str
    prices_include_tax: bool
    lines: list[PricedLine]
    charges: list[PricedCharge] = field(default_factory=list)
    order_discount_percent: Decimal = ZERO
    order_discount_rule: str | None = None
    subtotal: Decimal = ZERO
    discount_total: Decimal = ZERO
    charges_total: Decimal = ZERO
    tax_total: Decimal = ZERO
    total: Decimal = ZERO

    def money(self, amount: Decimal) -> Money:
        """An amount of this order as Money."""
        return Money(amount, self.currency)


# ---- agreements -------------------------------------------------------------------------------


def is_effective(agreement: Agreement, on: date) -> bool:
    """Active and within its from/to dates (both inclusive)."""
    if not agreement.active:
        return False
    if agreement.valid_from and on < agreement.valid_from:
        return False
    return not (agreement.valid_to and on > agreement.valid_to)


def _customer_rank(agreement: Agreement, customer: CustomerFacts) -> int | None:
    """2 = this customer, 1 = their group, 0 = everyone, None = not for this customer."""
    if agreement.customer_id is not None:
        return 2 if agreement.customer_id == customer.id else None
    if agreement.customer_group is not None:
        return 1 if agreement.customer_group == customer.group else None
    return 0


def _item_rank(agreement: Agreement, line: LineInput) -> int | None:
    """2 = this SKU, 1 = its item group, 0 = all items, None = not for this item."""
    if agreement.sku is not None:
        return 2 if agreement.sku == line.sku else None
    if agreement.item_group is not None:
        return 1 if agreement.item_group == line.item_group else None
    return 0


def unit_price_under(agreement: Agreement, list_price: Decimal, currency: str) -> Decimal:
    """The unit price the agreement gives, in the minor unit, never below zero."""
    if agreement.unit_price is not None:
        price = agreement.unit_price
    elif agreement.discount_percent is not None:
        percent = min(max(agreement.discount_percent, ZERO), HUNDRED)
        price = list_price * (HUNDRED - percent) / HUNDRED
    elif agreement.discount_amount is not None:
        price = list_price - agreement.discount_amount
    else:
        price = list_price
    return round_money(max(price, ZERO), currency)


def best_line_agreement(
    agreements: Iterable[Agreement], *, line: LineInput, customer: CustomerFacts, on: date
) -> Agreement | None:
    """The agreement that sets this line's price, or None for the list price."""
    best: tuple | None = None
    chosen: Agreement | None = None
    for agreement in agreements:
        if agreement.scope != "line" or agreement.currency != line.currency:
            continue
        if not is_effective(agreement, on) or line.qty < agreement.min_qty:
            continue
        who, what = _customer_rank(agreement, customer), _item_rank(agreement, line)
        if who is None or what is None:
            continue
        price = unit_price_under(agreement, line.list_price, line.currency)
        # Larger is better on every position; the price and id are negated.
        rank = (agreement.priority, what, who, agreement.min_qty, -price, -agreement.id)
        if best is None or rank > best:
            best, chosen = rank, agreement
    return chosen


def best_order_agreement(
    agreements: Iterable[Agreement],
    *,
    customer: CustomerFacts,
    currency: str,
    goods: Decimal,
    on: date,
) -> Agreement | None:
    """The order-level discount that applies to goods worth `goods`, or None."""
    best: tuple | None = None
    chosen: Agreement | None = None
    for agreement in agreements:
        if agreement.scope != "order" or agreement.currency != currency:
            continue
        if not is_effective(agreement, on) or agreement.discount_percent is None:
            continue
        if agreement.min_amount is not None and goods < agreement.min_amount:
            continue
        who = _customer_rank(agreement, customer)
        if who is None:
            continue
        rank = (agreement.priority, who, agreement.discount_percent, -agreement.id)
        if best is None or rank > best:
            best, chosen = rank, agreement
    return chosen


def describe(agreement: Agreement) -> str:
    """How a line records the rule that priced it, e.g. `agreement 7: Gold customers`."""
    return f"agreement {agreement.id}: {agreement.name}"[:200]


# ---- taxes and shipping -----------------------------------------------------------------------


def tax_rate_for(rules: Iterable[TaxRule], *, tax_class: str, country: str) -> Decimal:
    """The rate for a tax class shipped to `country` (an exact country beats "*"; none = 0)."""
    fallback = ZERO
    for rule in rules:
        if rule.tax_class != tax_class:
            continue
        if rule.country == country:
            return rule.rate
        if rule.country == "*":
            fallback = rule.rate
    return fallback


def tax_of(amount: Decimal, rate: Decimal, *, inclusive: bool, currency: str) -> Decimal:
    """Tax on a rounded amount, rounded once: on top of it, or the part inside it."""
    if rate <= ZERO or amount == ZERO:
        return round_money(ZERO, currency)
    if inclusive:
        return round_money(amount * rate / (HUNDRED + rate), currency)
    return round_money(amount * rate / HUNDRED, currency)


def shipping_charge(
    rules: Iterable[ShippingRule],
    *,
    customer: CustomerFacts,
    country: str,
    currency: str,
    goods: Decimal,
) -> ChargeInput | None:
    """The shipping charge from the best matching rate (None when none matches or it is free)."""
    best: tuple | None = None
    chosen: ShippingRule | None = None
    for rule in rules:
        if rule.currency != currency or rule.country not in ("*", country):
            continue
        if rule.customer_group is not None and rule.customer_group != customer.group:
            continue
        specific = (rule.country != "*") + (rule.customer_group is not None)
        rank = (rule.priority, specific, -rule.id)
        if best is None or rank > best:
            best, chosen = rank, rule
    if chosen is None:
        return None
    if chosen.free_from is not None and goods >= chosen.free_from:
        return None
    if chosen.amount <= ZERO:
        return None
    return ChargeInput("shipping", chosen.name, chosen.amount, chosen.tax_class)


# ---- the whole order --------------------------------------------------------------------------


def price_order(
    *,
    lines: Sequence[LineInput],
    customer: CustomerFacts,
    agreements: Sequence[Agreement],
    on: date,
    currency: str,
    tax_rules: Sequence[TaxRule] = (),
    country: str | None = None,
    charges: Sequence[ChargeInput] = (),
    shipping_rules: Sequence[ShippingRule] = (),
    prices_include_tax: bool = False,
) -> PricedOrder:
    """Price every line, apply the order discount, add charges and taxes, and total it all.

    Explicit `charges` of kind "shipping" replace the automatic shipping rate.
    """
    destination = country or customer.country
    units: list[tuple[LineInput, Decimal, str]] = []
    for line in lines:
        if line.explicit_price is not None:
            unit = round_money(max(line.explicit_price, ZERO), currency)
            units.append((line, unit, "explicit price"))
            continue
        agreement = best_line_agreement(agreements, line=line, customer=customer, on=on)
        if agreement is None:
            units.append((line, round_money(line.list_price, currency), "list price"))
        else:
            unit = unit_price_under(agreement, line.list_price, currency)
            units.append((line, unit, describe(agreement)))

    # The order discount is measured on, and applies to, the goods priced by Conveyor.
    goods = sum((unit * ln.qty for ln, unit, _ in units), ZERO)
    discountable = sum((unit * ln.qty for ln, unit, _ in units if ln.explicit_price is None), ZERO)
    order_agreement = best_order_agreement(
        agreements, customer=customer, currency=currency, goods=discountable, on=on
    )
    percent = ZERO
    if order_agreement is not None and order_agreement.discount_percent is not None:
        percent = min(max(order_agreement.discount_percent, ZERO), HUNDRED)

    priced_lines: list[PricedLine] = []
    for line, unit, rule in units:
        gross = unit * line.qty
        line_percent = ZERO if line.explicit_price is not None else percent
        line_total = round_money(gross * (HUNDRED - line_percent) / HUNDRED, currency)
        rule_text = rule
        if line_percent and order_agreement is not None:
            rule_text = f"{rule}; order discount {line_percent.normalize():f}%"
        rate = tax_rate_for(tax_rules, tax_class=line.tax_class, country=destination)
        priced_lines.append(
            PricedLine(
                sku=line.sku,
                qty=line.qty,
                list_price=round_money(line.list_price, currency),
                unit_price=unit,
                discount_amount=round_money(gross - line_total, currency),
                line_total=line_total,
                price_rule=rule_text[:200],
                tax_class=line.tax_class,
                tax_rate=rate,
                tax_amount=tax_of(
                    line_total, rate, inclusive=prices_include_tax, currency=currency
                ),
            )
        )

    subtotal = sum((pl.line_total for pl in priced_lines), round_money(ZERO, currency))
    all_charges = list(charges)
    if not any(c.kind == "shipping" for c in all_charges):
        auto = shipping_charge(
            shipping_rules, customer=customer, country=destination, currency=currency, goods=goods
        )
        if auto is not None:
            all_charges.insert(0, auto)
    priced_charges = []
    for charge in all_charges:
        amount = round_money(max(charge.amount, ZERO), currency)
        rate = tax_rate_for(tax_rules, tax_class=charge.tax_class, country=destination)
        priced_charges.append(
            PricedCharge(
                kind=charge.kind,
                description=charge.description,
                amount=amount,
                tax_class=charge.tax_class,
                tax_rate=rate,
                tax_amount=tax_of(amount, rate, inclusive=prices_include_tax, currency=currency),
            )
        )
    charges_total = sum((c.amount for c in priced_charges), round_money(ZERO, currency))
    tax_total = sum(
        [pl.tax_amount for pl in priced_lines] + [c.tax_amount for c in priced_charges],
        round_money(ZERO, currency),
    )
    total = subtotal + charges_total + (ZERO if prices_include_tax else tax_total)
    return PricedOrder(
        currency=currency,
        prices_include_tax=prices_include_tax,
        lines=priced_lines,
        charges=priced_charges,
        order_discount_percent=percent,
        order_discount_rule=describe(order_agreement) if order_agreement and percent else None,
        subtotal=subtotal,
        discount_total=sum((pl.discount_amount for pl in priced_lines), round_money(ZERO)),
        charges_total=charges_total,
        tax_total=tax_total,
        total=total,
    )
