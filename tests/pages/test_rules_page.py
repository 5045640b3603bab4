"""Rules page helpers: preview lines and conditions in words."""

import pytest

from conveyor.pages.rules import describe, parse_lines
from conveyor.pages.web import _duration
from routing_rules.models import AllOf, AnyOf, DropShip, OneOf, TagMatch, TotalRange


def test_parse_lines() -> None:
    lines = parse_lines("KB-MECH 2\n\nBOX-1\nMON-27, 3\n")
    assert [(line.sku, line.qty) for line in lines] == [("KB-MECH", 2), ("BOX-1", 1), ("MON-27", 3)]
    with pytest.raises(ValueError, match="line 1"):
        parse_lines("KB-MECH two")


def test_conditions_in_words() -> None:
    big = AllOf(
        conditions=(
            OneOf(key="customer_group", values=frozenset({"wholesale", "b2b"})),
            TotalRange(gte=5000),
        )
    )
    assert describe(big) == "customer group is b2b or wholesale and total ≥ 5000"
    either = AnyOf(
        conditions=(OneOf(key="channel", values=frozenset({"web"})), big, DropShip(value=True))
    )
    assert describe(either) == (
        "channel is web or (customer group is b2b or wholesale and total ≥ 5000)"
        " or has drop-ship lines"
    )
    assert describe(TagMatch(mode="all", tags=frozenset({"cold", "fragile"}))) == (
        "all of the tags cold, fragile"
    )
    assert describe(TotalRange(gt=10, lt=100)) == "total > 10 and total < 100"


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (45, "45s"),
        (1800, "30m"),
        (1812, "30m 12s"),
        (14400, "4h"),
        (14700, "4h 5m"),
        (86400, "1d"),
        (93600, "1d 2h"),
        (0, "0s"),
    ],
)
def test_durations_read_one_way(seconds: int, shown: str) -> None:
    """SLAs and step times in their two largest units, no zero padding (not `1d 0h`)."""
    assert _duration(seconds) == shown
