"""`assign: {same_as: <step>}`: a task goes to whoever completed an earlier step of the order."""

from pathlib import Path

import pytest

from routing_rules.loader import check_file, load_rule_set
from routing_rules.models import same_as

SHIPPED = Path(__file__).resolve().parents[2] / "routing_rules" / "rules"
HEAD = "rules:\n  - name: d\n    default: true\n    steps:\n"
PICKING = "      picking: {mode: task, role: warehouse}\n"


def _check(tmp_path: Path, steps: str) -> list[str]:
    path = tmp_path / "rules.yaml"
    path.write_text(HEAD + steps)
    return [error.split(":", 2)[2].strip() for error in check_file(path)]


def test_the_shipped_rules_give_packing_to_the_picker() -> None:
    rule_set = load_rule_set(SHIPPED)
    for rule in rule_set.rules:
        routes = {route.step: route for route in rule.steps}
        if routes["packing"].mode == "task":
            assert routes["packing"].assign == "same:picking", rule.name
            assert same_as(routes["packing"].assign) == "picking"
            assert routes["packing"].fallback == "pool"


def test_same_as_reads_with_a_fallback(tmp_path: Path) -> None:
    packing = "      packing: {mode: task, role: warehouse, assign: {same_as: picking}, "
    assert _check(tmp_path, PICKING + packing + "fallback: round_robin}\n") == []
    route = load_rule_set(tmp_path).rules[0].steps[4]
    assert (route.assign, route.fallback) == ("same:picking", "round_robin")


@pytest.mark.parametrize(
    ("steps", "error"),
    [
        (
            "      picking: {mode: task, role: warehouse, assign: {same_as: packing}}\n",
            "`same_as` of step 'picking' names an earlier step (quote, stock_check, "
            "allocation), not 'packing'",
        ),
        (
            "      packing: {mode: task, role: warehouse, assign: {same_as: picking}}\n",
            "step 'packing' is assigned like 'picking', which is no task here: nobody does it",
        ),
        (
            PICKING + "      packing: {mode: task, role: warehouse, assign: {picker: yes}}\n",
            "the `assign` of step 'packing' is a strategy or {same_as: <step>}",
        ),
        (
            "      picking: {mode: task, role: warehouse, assign: picker}\n",
            "unknown assignment strategy 'picker' for step 'picking'; strategies are "
            "round_robin, least_loaded, owner, pool or {same_as: <an earlier step>}",
        ),
    ],
)
def test_bad_same_as_is_refused_in_words(tmp_path: Path, steps: str, error: str) -> None:
    assert _check(tmp_path, steps) == [error]
