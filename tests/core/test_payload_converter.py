"""The payload converter keeps money exact and shares its pydantic adapters between instances."""

from dataclasses import dataclass
from decimal import Decimal

from conveyor.core.temporal import _TYPE_ADAPTERS, SharedAdapterPayloadConverter


@dataclass
class Priced:
    sku: str
    price: Decimal


def test_a_decimal_in_a_dataclass_round_trips_exactly() -> None:
    converter = SharedAdapterPayloadConverter()
    payloads = converter.to_payloads([Priced("A-1", Decimal("19.99"))])
    assert converter.from_payloads(payloads, [Priced]) == [Priced("A-1", Decimal("19.99"))]


def test_a_second_converter_reuses_the_first_ones_adapters() -> None:
    # The workflow sandbox makes one converter per workflow instance.
    payloads = SharedAdapterPayloadConverter().to_payloads([Priced("B-2", Decimal("1.10"))])
    SharedAdapterPayloadConverter().from_payloads(payloads, [Priced])
    hits = _TYPE_ADAPTERS.cache_info().hits
    assert SharedAdapterPayloadConverter().from_payloads(payloads, [Priced])[0].price == Decimal(
        "1.10"
    )
    assert _TYPE_ADAPTERS.cache_info().hits == hits + 1
