"""The pricing engine: tables of cases, then properties (hypothesis)."""

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conveyor.pricing.engine import (
    Agreement,
    ChargeInput,
    CustomerFacts,
    LineInput,
    ShippingRule,
    TaxRule,
    best_line_agreement,
    price_order,
    round_money,
    unit_price_under,
)

D = Decimal
TODAY = date(2026, 6, 15)
GOLD = CustomerFacts(id=7, group="gold", country="DE")
RETAIL = CustomerFacts(id=8, group="retail", country="US")


def line(
    qty: int = 1, price: str = "10.00", sku: str = "A", group: str | None = "tools"
) -> LineInput:
    return LineInput(sku=sku, qty=qty, list_price=D(price), item_group=group)


def unit(agreements: list[Agreement], *, qty: int = 1, customer: CustomerFacts = GOLD) -> str:
    """The unit price and the rule the engine picks for one line of SKU A (list 10.00)."""
    priced = price_order(
        lines=[line(qty)], customer=customer, agreements=agreements, on=TODAY, currency="USD"
    )
    return f"{priced.lines[0].unit_price} {priced.lines[0].price_rule}"


ITEM_PRICE = Agreement(id=1, name="item", sku="A", unit_price=D("9.00"))
GROUP_PRICE = Agreement(id=2, name="gold", customer_group="gold", discount_percent=D("15"))
BREAK_10 = Agreement(id=3, name="10+", sku="A", min_qty=10, unit_price=D("8.00"))
BREAK_50 = Agreement(id=4, name="50+", sku="A", min_qty=50, unit_price=D("7.00"))


@pytest.mark.parametrize(
    ("agreements", "qty", "customer", "expected"),
    [
        ([], 1, GOLD, "10.00 list price"),
        ([ITEM_PRICE], 1, GOLD, "9.00 agreement 1: item"),
        # Customer group vs item price, same priority: the item side is more specific.
        ([GROUP_PRICE], 1, GOLD, "8.50 agreement 2: gold"),
        ([ITEM_PRICE, GROUP_PRICE], 1, GOLD, "9.00 agreement 1: item"),
        ([ITEM_PRICE, GROUP_PRICE], 1, RETAIL, "9.00 agreement 1: item"),
        # ...and the group price wins when it has the higher priority.
        (
            [ITEM_PRICE, GROUP_PRICE.__class__(**{**GROUP_PRICE.__dict__, "priority": 5})],
            1,
            GOLD,
            "8.50 agreement 2: gold",
        ),
        # An item price with a higher priority keeps winning.
        (
            [ITEM_PRICE.__class__(**{**ITEM_PRICE.__dict__, "priority": 5}), GROUP_PRICE],
            1,
            GOLD,
            "9.00 agreement 1: item",
        ),
        # Quantity break edges: below, at and above each break.
        ([ITEM_PRICE, BREAK_10, BREAK_50], 9, GOLD, "9.00 agreement 1: item"),
        ([ITEM_PRICE, BREAK_10, BREAK_50], 10, GOLD, "8.00 agreement 3: 10+"),
        ([ITEM_PRICE, BREAK_10, BREAK_50], 49, GOLD, "8.00 agreement 3: 10+"),
        ([ITEM_PRICE, BREAK_10, BREAK_50], 50, GOLD, "7.00 agreement 4: 50+"),
        # Item group and everyone.
        (
            [Agreement(id=5, name="tools", item_group="tools", discount_amount=D("0.50"))],
            1,
            RETAIL,
            "9.50 agreement 5: tools",
        ),
        (
            [Agreement(id=5, name="toys", item_group="toys", discount_amount=D("0.50"))],
            1,
            RETAIL,
            "10.00 list price",
        ),
        # A specific customer beats their group.
        (
            [GROUP_PRICE, Agreement(id=6, name="acme", customer_id=7, unit_price=D("9.99"))],
            1,
            GOLD,
            "9.99 agreement 6: acme",
        ),
        (
            [Agreement(id=6, name="acme", customer_id=99, unit_price=D("1.00"))],
            1,
            GOLD,
            "10.00 list price",
        ),
    ],
)
def test_which_agreement_prices_the_line(agreements, qty, customer, expected) -> None:
    assert unit(agreements, qty=qty, customer=customer) == expected


@pytest.mark.parametrize(
    ("valid_from", "valid_to", "active", "applies"),
    [
        (None, None, True, True),
        (date(2026, 6, 15), date(2026, 6, 15), True, True),  # both ends inclusive
        (date(2026, 6, 16), None, True, False),  # not yet
        (None, date(2026, 6, 14), True, False),  # expired yesterday
        (None, None, False, False),  # switched off
    ],
)
def test_effective_dates(valid_from, valid_to, active, applies) -> None:
    agreement = Agreement(
        id=1,
        name="x",
        sku="A",
        unit_price=D("5.00"),
        valid_from=valid_from,
        valid_to=valid_to,
        active=active,
    )
    assert (
        best_line_agreement([agreement], line=line(), customer=GOLD, on=TODAY) is not None
    ) == applies


def test_priority_ties_are_deterministic() -> None:
    # Same priority, specificity and break: the lower price wins, then the older agreement.
    cheap = Agreement(id=9, name="cheap", sku="A", unit_price=D("8.00"))
    dear = Agreement(id=3, name="dear", sku="A", unit_price=D("8.50"))
    assert unit([dear, cheap]) == "8.00 agreement 9: cheap"
    twin = Agreement(id=2, name="twin", sku="A", unit_price=D("8.00"))
    assert unit([cheap, twin]) == "8.00 agreement 2: twin"
    assert unit([twin, cheap]) == "8.00 agreement 2: twin"
    # Other currencies never apply.
    euro = Agreement(id=1, name="eur", sku="A", unit_price=D("1.00"), currency="EUR")
    assert unit([euro]) == "10.00 list price"


def test_discounts_round_the_unit_price_and_never_go_below_zero() -> None:
    assert unit_price_under(
        Agreement(id=1, name="x", discount_percent=D("10")), D("9.99"), "USD"
    ) == D("8.99")
    assert unit_price_under(
        Agreement(id=1, name="x", discount_percent=D("15")), D("0.10"), "USD"
    ) == D("0.09")
    assert unit_price_under(
        Agreement(id=1, name="x", discount_amount=D("20")), D("9.99"), "USD"
    ) == D("0.00")
    assert unit_price_under(
        Agreement(id=1, name="x", discount_percent=D("150")), D("5"), "USD"
    ) == D("0.00")
    assert round_money(D("2.345")) == D("2.35")  # half-up, not banker's
    assert round_money(D("1234.5"), "JPY") == D("1235.00")


def test_order_discount_tax_and_shipping_to_the_cent() -> None:
    agreements = [
        Agreement(
            id=1, name="gold", customer_group="gold", sku="A", min_qty=10, unit_price=D("8.40")
        ),
        Agreement(
            id=2, name="big order", scope="order", discount_percent=D("2.5"), min_amount=D("100")
        ),
    ]
    priced = price_order(
        lines=[line(12), LineInput(sku="B", qty=3, list_price=D("3.33"), tax_class="reduced")],
        customer=GOLD,
        agreements=agreements,
        on=TODAY,
        currency="USD",
        tax_rules=[TaxRule("standard", "DE", D("19")), TaxRule("reduced", "*", D("7"))],
        shipping_rules=[ShippingRule(id=1, name="DE parcel", amount=D("4.90"), country="DE")],
        charges=[ChargeInput("special", "Gift wrap", D("1.50"))],
    )
    a, b = priced.lines
    # 12 x 8.40 = 100.80 less 2.5 % = 98.28; 3 x 3.33 = 9.99 less 2.5 % = 9.74025 -> 9.74
    assert (a.unit_price, a.line_total, a.discount_amount) == (D("8.40"), D("98.28"), D("2.52"))
    assert (b.unit_price, b.line_total, b.discount_amount) == (D("3.33"), D("9.74"), D("0.25"))
    assert a.price_rule == "agreement 1: gold; order discount 2.5%"
    # Tax per line, rounded once: 98.28 x 19 % = 18.6732; 9.74 x 7 % = 0.6818
    assert (a.tax_amount, b.tax_amount) == (D("18.67"), D("0.68"))
    assert [(c.kind, c.amount, c.tax_amount) for c in priced.charges] == [
        ("shipping", D("4.90"), D("0.93")),
        ("special", D("1.50"), D("0.29")),
    ]
    assert priced.subtotal == D("108.02")
    assert priced.discount_total == D("2.77")
    assert priced.charges_total == D("6.40")
    assert priced.tax_total == D("20.57")
    assert priced.total == D("134.99")


def test_tax_inclusive_prices_and_free_shipping() -> None:
    priced = price_order(
        lines=[line(2, price="11.90")],
        customer=GOLD,
        agreements=[],
        on=TODAY,
        currency="EUR",
        tax_rules=[TaxRule("standard", "DE", D("19")), TaxRule("standard", "*", D("0"))],
        shipping_rules=[
            ShippingRule(id=1, name="x", amount=D("5"), currency="EUR", free_from=D("20"))
        ],
        prices_include_tax=True,
    )
    assert priced.lines[0].line_total == D("23.80")
    assert priced.lines[0].tax_amount == D("3.80")  # 23.80 x 19/119
    assert priced.charges == []  # goods of 23.80 ship free
    assert (priced.tax_total, priced.total) == (D("3.80"), D("23.80"))


def test_explicit_prices_bypass_agreements_and_order_discount() -> None:
    store = LineInput(sku="A", qty=2, list_price=D("10.00"), explicit_price=D("7.77"))
    priced = price_order(
        lines=[store],
        customer=GOLD,
        agreements=[
            ITEM_PRICE,
            Agreement(id=2, name="all", scope="order", discount_percent=D("50")),
        ],
        on=TODAY,
        currency="USD",
    )
    assert (priced.lines[0].unit_price, priced.lines[0].line_total) == (D("7.77"), D("15.54"))
    assert priced.lines[0].price_rule == "explicit price"


# ---- properties --------------------------------------------------------------------------------

prices = st.decimals(min_value=D("0"), max_value=D("99999.99"), places=2)
percents = st.decimals(min_value=D("0"), max_value=D("100"), places=4)
line_inputs = st.builds(
    LineInput,
    sku=st.sampled_from(["A", "B", "C"]),
    qty=st.integers(min_value=1, max_value=10_000),
    list_price=prices,
    item_group=st.sampled_from([None, "tools", "toys"]),
    tax_class=st.sampled_from(["standard", "reduced", "zero"]),
    explicit_price=st.one_of(st.none(), st.none(), prices),
)
agreement_lists = st.lists(
    st.builds(
        Agreement,
        id=st.integers(min_value=1, max_value=1000),
        name=st.just("a"),
        scope=st.sampled_from(["line", "order"]),
        priority=st.integers(min_value=-2, max_value=2),
        sku=st.sampled_from([None, "A", "B"]),
        item_group=st.sampled_from([None, "tools"]),
        customer_group=st.sampled_from([None, "gold", "retail"]),
        min_qty=st.integers(min_value=1, max_value=100),
        discount_percent=st.one_of(st.none(), percents),
        discount_amount=st.one_of(st.none(), prices),
        unit_price=st.one_of(st.none(), prices),
    ),
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(line_inputs, min_size=1, max_size=8),
    agreements=agreement_lists,
    charges=st.lists(
        st.builds(
            ChargeInput,
            kind=st.sampled_from(["shipping", "special"]),
            description=st.just("c"),
            amount=prices,
        ),
        max_size=3,
    ),
    inclusive=st.booleans(),
    rates=st.tuples(percents, percents),
)
def test_totals_are_the_sum_of_rounded_lines_and_never_negative(
    lines, agreements, charges, inclusive, rates
) -> None:
    priced = price_order(
        lines=lines,
        customer=GOLD,
        agreements=agreements,
        on=TODAY,
        currency="USD",
        tax_rules=[TaxRule("standard", "*", rates[0]), TaxRule("reduced", "DE", rates[1])],
        charges=charges,
        prices_include_tax=inclusive,
    )
    cent = D("0.01")
    for pl in priced.lines:
        assert pl.unit_price >= 0 and pl.line_total >= 0 and pl.tax_amount >= 0
        assert pl.discount_amount >= 0
        assert pl.line_total == pl.line_total.quantize(cent)
        assert pl.line_total + pl.discount_amount == pl.unit_price * pl.qty
        if inclusive:
            assert pl.tax_amount <= pl.line_total
    assert priced.subtotal == sum(pl.line_total for pl in priced.lines)
    assert priced.charges_total == sum(c.amount for c in priced.charges)
    assert priced.tax_total == sum(pl.tax_amount for pl in priced.lines) + sum(
        c.tax_amount for c in priced.charges
    )
    expected = priced.subtotal + priced.charges_total + (0 if inclusive else priced.tax_total)
    assert priced.total == expected >= 0


@settings(max_examples=300, deadline=None)
@given(list_price=prices, agreement=agreement_lists.filter(bool).map(lambda a: a[0]))
def test_a_discount_never_makes_a_price_negative_or_higher_than_list(list_price, agreement) -> None:
    price = unit_price_under(agreement, list_price, "USD")
    assert price >= 0
    if agreement.unit_price is None:
        assert price <= list_price
