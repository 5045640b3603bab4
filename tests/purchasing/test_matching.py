"""The three-way match of one invoice line: quantities against received and ordered (with
earlier invoices), the price either way from the purchase order's, at the tolerance's edge."""

from decimal import Decimal

from conveyor.purchasing.matching import LineFacts, differences, total_difference

TWO = Decimal("2")


def facts(**changes: object) -> LineFacts:
    base: dict[str, object] = {
        "sku": "KB-1",
        "invoiced": 100,
        "invoiced_before": 0,
        "received": 100,
        "ordered": 100,
        "unit_price": Decimal("10.00"),
        "po_unit_price": Decimal("10.0000"),
    }
    return LineFacts(**(base | changes))  # type: ignore[arg-type]


def test_a_line_within_the_tolerance_matches_at_its_edge() -> None:
    assert differences(facts(), TWO) == []
    assert differences(facts(invoiced=102), TWO) == []  # 2 % over received and ordered
    assert differences(facts(unit_price=Decimal("10.20")), TWO) == []
    assert differences(facts(unit_price=Decimal("9.80")), TWO) == []
    assert differences(facts(invoiced=10), TWO) == []  # billing less is no difference


def test_each_difference_beyond_the_tolerance_is_named() -> None:
    assert differences(facts(invoiced=103), TWO) == [
        "KB-1: 103 invoiced, 100 received",
        "KB-1: 103 invoiced, 100 ordered",
    ]
    assert differences(facts(received=60, invoiced=70), TWO) == ["KB-1: 70 invoiced, 60 received"]
    assert differences(facts(unit_price=Decimal("9.79")), TWO) == [
        "KB-1: unit price 9.79, purchase order 10"
    ]
    assert differences(facts(invoiced=60, invoiced_before=50), Decimal("0")) == [
        "KB-1: 110 invoiced (50 on earlier invoices), 100 received",
        "KB-1: 110 invoiced (50 on earlier invoices), 100 ordered",
    ]
    # Nothing received yet: any quantity billed is a difference, whatever the tolerance.
    assert differences(facts(received=0, invoiced=1), Decimal("100")) == [
        "KB-1: 1 invoiced, 0 received"
    ]


def test_the_stated_total_is_checked_to_the_cent() -> None:
    assert total_difference(None, Decimal("10.00")) is None
    assert total_difference(Decimal("10.00"), Decimal("10.00")) is None
    assert total_difference(Decimal("10.01"), Decimal("10.00")) == (
        "the invoice states a total of 10.01, its lines add up to 10.00"
    )
