"""Rule matching: first match wins, any/all nesting, total bounds, tags, and the default."""

import shutil
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from routing_rules.engine import decide, matches
from routing_rules.loader import RuleSet, load_rule_set
from routing_rules.models import (
    CHANNELS,
    STEPS,
    AllOf,
    AnyOf,
    DropShip,
    OneOf,
    OrderFacts,
    Rule,
    StepRoute,
    TagMatch,
    TotalRange,
)

FIXTURES = Path(__file__).resolve().parent / "rules"
SHIPPED_DIR = Path(__file__).resolve().parents[2] / "routing_rules" / "rules"
SHIPPED = load_rule_set(SHIPPED_DIR)


@pytest.fixture(scope="module")
def matching(tmp_path_factory: pytest.TempPathFactory) -> RuleSet:
    """The matching fixture, copied into a folder of its own (each fixture file is one case)."""
    directory = tmp_path_factory.mktemp("matching")
    shutil.copy(FIXTURES / "matching.yaml", directory)
    return load_rule_set(directory)


def _plan(decision_steps: list[StepRoute]) -> dict[str, tuple[str, str | None, str]]:
    """The steps that are not `auto`, as step -> (mode, role, assign)."""
    return {s.step: (s.mode, s.role, s.assign) for s in decision_steps if s.mode != "auto"}


# ---- the shipped rules: a table of orders ----------------------------------------------------

# Whoever picked packs (`assign: {same_as: picking}`).
WAREHOUSE = {
    "picking": ("task", "warehouse", "pool"),
    "packing": ("task", "warehouse", "same:picking"),
}
# A rule that does not name `delivery` skips it (delivered when packed).
NO_DELIVERY = {"delivery": ("skip", None, "pool")}
BIG_B2B = {
    "quote": ("task", "sales", "owner"),
    "allocation": ("task", "credit", "pool"),
    **WAREHOUSE,
    **NO_DELIVERY,
}
WEB = {
    "quote": ("skip", None, "pool"),
    "allocation": ("task", "order_desk", "round_robin"),
    **NO_DELIVERY,
}
DEFAULT = {"quote": ("skip", None, "pool"), **WAREHOUSE, **NO_DELIVERY}
# A counter sale: every step by itself, nothing to deliver.
COUNTER = {"quote": ("skip", None, "pool"), **NO_DELIVERY}


@pytest.mark.parametrize(
    ("facts", "rule", "plan"),
    [
        (OrderFacts(channel="web"), "web-orders", WEB),
        (OrderFacts(channel="web", customer_group="wholesale", total=5000), "big-b2b", BIG_B2B),
        (OrderFacts(channel="web", customer_group="b2b", total="4999.99"), "web-orders", WEB),
        (OrderFacts(channel="phone", customer_group="b2b", total=5000), "big-b2b", BIG_B2B),
        (
            OrderFacts(channel="sales_rep", customer_group="wholesale", total=10**6),
            "big-b2b",
            BIG_B2B,
        ),
        (OrderFacts(channel="phone", customer_group="retail", total=10**6), "default", DEFAULT),
        (OrderFacts(channel="customer_center", customer_group="wholesale"), "default", DEFAULT),
        (OrderFacts(channel="sales_rep", tags={"fragile"}, has_drop_ship=True), "default", DEFAULT),
        (OrderFacts(channel="pos"), "counter-sales", COUNTER),
        (OrderFacts(channel="pos", customer_group="b2b", total=9000), "counter-sales", COUNTER),
    ],
)
def test_shipped_rules_route_orders(facts: OrderFacts, rule: str, plan: dict) -> None:
    decision = SHIPPED.decide(facts)
    assert decision.rule == rule
    assert decision.version == SHIPPED.version
    assert [s.step for s in decision.steps] == list(STEPS)
    assert _plan(decision.steps) == plan


def test_shipped_web_orders_carry_sla_and_escalation() -> None:
    allocation = SHIPPED.decide(OrderFacts(channel="web")).steps[2]
    assert allocation.sla == timedelta(minutes=30)
    assert allocation.escalation is not None
    assert allocation.escalation.remind_after == timedelta(minutes=15)
    assert (allocation.escalation.then, allocation.escalation.after) == (
        "reassign",
        timedelta(minutes=30),
    )
    quote = SHIPPED.decide(OrderFacts(channel="phone", customer_group="b2b", total=9000)).steps[0]
    assert (quote.fallback, quote.sla) == ("round_robin", timedelta(days=1))


# ---- the matching fixture: nesting, bounds, tags ---------------------------------------------


def _facts(**changes: object) -> OrderFacts:
    base = {"channel": "sales_rep", "customer_group": "retail", "country": "US", "total": 50}
    return OrderFacts(**(base | changes))


@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        ({}, "everything-else"),
        ({"has_drop_ship": True, "tags": {"hazmat"}}, "drop-ship"),  # first match wins
        # tags: all vs any
        ({"tags": {"fragile", "cold", "x"}}, "fragile-and-cold"),
        ({"tags": {"fragile"}}, "everything-else"),
        ({"tags": {"cold"}}, "everything-else"),
        ({"tags": {"flammable", "x"}}, "hazardous"),
        ({"tags": {"hazmat"}}, "hazardous"),
        ({"tags": set()}, "everything-else"),
        # total: gt excludes the bound, gte/lte include it, lt excludes it
        ({"customer_group": "gold", "total": "1000.01"}, "gold-over-1000"),
        ({"customer_group": "gold", "total": 1000}, "gold-500-to-1000"),
        ({"customer_group": "gold", "total": 500}, "gold-500-to-1000"),
        ({"customer_group": "gold", "total": "499.99"}, "everything-else"),
        ({"customer_group": "silver", "total": 5000}, "everything-else"),
        ({"total": "9.99"}, "tiny"),
        ({"total": 10}, "everything-else"),
        ({"total": 0}, "tiny"),
        # any of (all of country+currency) or (all of phone, >= 2000, any of vip/priority)
        ({"country": "DE", "currency": "EUR"}, "eu-or-big-phone"),
        ({"country": "FR", "currency": "EUR", "total": 1}, "eu-or-big-phone"),
        ({"country": "DE", "currency": "USD"}, "everything-else"),
        ({"country": "US", "currency": "EUR"}, "everything-else"),
        ({"channel": "phone", "total": 2000, "customer_group": "vip"}, "eu-or-big-phone"),
        ({"channel": "phone", "total": 2000, "tags": {"priority"}}, "eu-or-big-phone"),
        ({"channel": "phone", "total": 2000}, "everything-else"),
        ({"channel": "phone", "total": "1999.99", "customer_group": "vip"}, "everything-else"),
        ({"channel": "web", "total": 2000, "customer_group": "vip"}, "everything-else"),
    ],
)
def test_matching_fixture(matching: RuleSet, changes: dict, rule: str) -> None:
    assert matching.decide(_facts(**changes)).rule == rule


def test_matched_rule_plan_fills_unmentioned_steps_with_auto(matching: RuleSet) -> None:
    decision = matching.decide(_facts(customer_group="gold", total=2000))
    assert decision.steps[0] == StepRoute(
        step="quote", mode="task", role="sales", assign="owner", fallback="least_loaded"
    )
    assert decision.steps[1:] == [_unmentioned(step) for step in STEPS[1:]]
    default = matching.decide(_facts())
    assert default.steps == [_unmentioned(step) for step in STEPS]


def _unmentioned(step: str) -> StepRoute:
    """A step no rule names: automatic, but delivery skipped (delivered when packed)."""
    return StepRoute(step=step, mode="skip" if step == "delivery" else "auto")


# ---- the pure engine -------------------------------------------------------------------------


def test_matches_each_condition_kind() -> None:
    facts = OrderFacts(channel="web", total=Decimal("100"), tags={"a", "b"}, has_drop_ship=True)
    assert matches(OneOf(key="channel", values={"web", "phone"}), facts)
    assert not matches(OneOf(key="currency", values={"EUR"}), facts)
    assert matches(TotalRange(gte=100, lte=100), facts)
    assert not matches(TotalRange(gt=100), facts)
    assert not matches(TotalRange(lt=100), facts)
    assert matches(TagMatch(mode="all", tags={"a", "b"}), facts)
    assert not matches(TagMatch(mode="all", tags={"a", "c"}), facts)
    assert matches(TagMatch(mode="any", tags={"c", "b"}), facts)
    assert matches(DropShip(value=True), facts)
    assert not matches(DropShip(value=False), facts)
    web, eur = OneOf(key="channel", values={"web"}), OneOf(key="currency", values={"EUR"})
    assert matches(AnyOf(conditions=(eur, web)), facts)
    assert not matches(AllOf(conditions=(eur, web)), facts)
    assert matches(AllOf(conditions=(web, AnyOf(conditions=(eur, DropShip(value=True))))), facts)


def test_decide_first_match_wins_and_needs_a_default() -> None:
    web = Rule(name="web", when=OneOf(key="channel", values={"web"}))
    also_web = Rule(name="also-web", when=OneOf(key="channel", values={"web"}))
    default = Rule(name="default", default=True, steps=(StepRoute(step="quote", mode="skip"),))
    rules = [web, also_web, default]
    assert decide(rules, "v1", OrderFacts(channel="web")).rule == "web"
    decision = decide(rules, "v1", OrderFacts(channel="phone"))
    assert (decision.rule, decision.version, decision.steps[0].mode) == ("default", "v1", "skip")
    with pytest.raises(LookupError):
        decide([web], "v1", OrderFacts(channel="phone"))


def test_rule_model_completes_and_orders_steps() -> None:
    rule = Rule(
        name="d",
        default=True,
        steps=(
            StepRoute(step="packing", mode="skip"),
            StepRoute(step="quote", mode="task", role="sales"),
        ),
    )
    assert [s.step for s in rule.steps] == list(STEPS)
    assert [s.mode for s in rule.steps] == [
        "task",
        "auto",
        "auto",
        "auto",
        "skip",
        "auto",  # service: staff confirm an order's service lines delivered
        "auto",
        "skip",  # delivery: skipped unless a rule names it
        "auto",
    ]
    with pytest.raises(ValueError, match="no role"):
        StepRoute(step="quote", mode="task")
    with pytest.raises(ValueError, match="given twice"):
        Rule(name="d", default=True, steps=(StepRoute(step="quote", mode="skip"),) * 2)


# ---- property: every order gets a full plan, and the default catches the rest ----------------

TAGS = ["fragile", "cold", "hazmat", "flammable", "priority", "other"]
facts_strategy = st.builds(
    OrderFacts,
    channel=st.sampled_from([*CHANNELS, "unknown"]),
    customer_group=st.sampled_from(["retail", "wholesale", "b2b", "gold", "vip", "silver"]),
    country=st.sampled_from(["US", "DE", "FR", "NO"]),
    total=st.one_of(
        st.sampled_from([Decimal(v) for v in ("0", "9.99", "10", "500", "1000", "2000", "5000")]),
        st.decimals(min_value=0, max_value=100_000, places=2),
    ),
    currency=st.sampled_from(["USD", "EUR"]),
    tags=st.frozensets(st.sampled_from(TAGS)),
    has_drop_ship=st.booleans(),
)

# The matching fixture written out again in plain Python: an independent oracle.
ORACLE: list[tuple[str, Callable[[OrderFacts], bool]]] = [
    ("drop-ship", lambda f: f.has_drop_ship),
    ("fragile-and-cold", lambda f: {"fragile", "cold"} <= f.tags),
    ("hazardous", lambda f: bool({"hazmat", "flammable"} & f.tags)),
    ("gold-over-1000", lambda f: f.customer_group == "gold" and f.total > 1000),
    ("gold-500-to-1000", lambda f: f.customer_group == "gold" and 500 <= f.total <= 1000),
    (
        "eu-or-big-phone",
        lambda f: (
            (f.country in ("DE", "FR") and f.currency == "EUR")
            or (
                f.channel == "phone"
                and f.total >= 2000
                and (f.customer_group == "vip" or "priority" in f.tags)
            )
        ),
    ),
    ("tiny", lambda f: f.total < 10),
]
SHIPPED_ORACLE: list[tuple[str, Callable[[OrderFacts], bool]]] = [
    ("counter-sales", lambda f: f.channel == "pos"),
    ("big-b2b", lambda f: f.customer_group in ("wholesale", "b2b") and f.total >= 5000),
    ("web-orders", lambda f: f.channel == "web"),
]


def _expected(oracle: list[tuple[str, Callable[[OrderFacts], bool]]], facts: OrderFacts) -> str:
    return next((name for name, holds in oracle if holds(facts)), "")


@given(facts_strategy)
def test_any_order_gets_seven_steps_and_the_default_catches_the_rest(
    matching: RuleSet, facts: OrderFacts
) -> None:
    for rule_set, oracle in ((matching, ORACLE), (SHIPPED, SHIPPED_ORACLE)):
        decision = rule_set.decide(facts)
        assert [step.step for step in decision.steps] == list(STEPS)
        assert decision.version == rule_set.version
        default = rule_set.rules[-1]
        assert default.default
        assert decision.rule == (_expected(oracle, facts) or default.name)
        chosen = next(rule for rule in rule_set.rules if rule.name == decision.rule)
        assert decision.steps == list(chosen.steps)
