"""Rule files: parsing, line-precise validation of bad files, multi-file sets and versions."""

import pickle
import shutil
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from routing_rules.loader import check_file, load_rule_set, parse_duration, rules_version
from routing_rules.models import (
    STEPS,
    AllOf,
    AnyOf,
    Escalation,
    OneOf,
    OrderFacts,
    RuleFileError,
    StepRoute,
    TagMatch,
    TotalRange,
)

FIXTURES = Path(__file__).resolve().parent / "rules"
SHIPPED = Path(__file__).resolve().parents[2] / "routing_rules" / "rules"
STEP_LIST = ", ".join(STEPS)
DEFAULT_RULE = "  - name: default\n    default: true\n"
DEFAULT_STEPS = "rules:\n  - name: d\n    default: true\n    steps:\n"  # then the steps


def _alone(name: str, tmp_path: Path) -> Path:
    """A fixture copied into a folder of its own, so it is checked as a complete rule set."""
    return Path(shutil.copy(FIXTURES / name, tmp_path / name))


def _write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text)
    return path


def _errors(path: Path) -> list[str]:
    """The problems of the folder holding `path`, as load_rule_set raises them."""
    with pytest.raises(RuleFileError) as caught:
        load_rule_set(path.parent)
    return caught.value.errors


# ---- the shipped rules -----------------------------------------------------------------------


def test_shipped_rules_load_in_order_with_a_version() -> None:
    rule_set = load_rule_set(SHIPPED)
    assert [rule.name for rule in rule_set.rules] == [
        "counter-sales",
        "big-b2b",
        "web-orders",
        "default",
    ]
    assert rule_set.rules[-1].default and rule_set.rules[-1].when is None
    assert len(rule_set.version) == 12 and int(rule_set.version, 16) >= 0
    assert rule_set.files == ["default.yaml"]
    for rule in rule_set.rules:  # `source` points at the rule's first line
        name, line = rule.source.split(":")
        assert (SHIPPED / name).read_text().splitlines()[int(line) - 1].strip() == (
            f"- name: {rule.name}"
        )
    assert check_file(SHIPPED / "default.yaml") == []


def test_shipped_big_b2b_and_web_orders_parse_to_typed_routes() -> None:
    counter, big, web, default = load_rule_set(SHIPPED).rules
    assert counter.when == OneOf(key="channel", values=frozenset({"pos"}))
    assert [(s.step, s.mode) for s in counter.steps if s.mode != "auto"] == [
        ("quote", "skip"),
        ("delivery", "skip"),
    ]
    assert big.when == AllOf(
        conditions=(
            OneOf(key="customer_group", values=frozenset({"wholesale", "b2b"})),
            TotalRange(gte=Decimal("5000")),
        )
    )
    assert big.steps[0] == StepRoute(
        step="quote",
        mode="task",
        role="sales",
        assign="owner",
        fallback="round_robin",
        sla=timedelta(days=1),
    )
    assert big.steps[2] == StepRoute(
        step="allocation", mode="task", role="credit", assign="pool", sla=timedelta(hours=4)
    )
    assert web.when == OneOf(key="channel", values=frozenset({"web"}))
    assert web.steps[0] == StepRoute(step="quote", mode="skip")
    assert web.steps[2] == StepRoute(
        step="allocation",
        mode="task",
        role="order_desk",
        assign="round_robin",
        sla=timedelta(minutes=30),
        escalation=Escalation(
            remind_after=timedelta(minutes=15), then="reassign", after=timedelta(minutes=30)
        ),
    )
    assert [s.mode for s in default.steps] == [
        "skip",
        "auto",
        "auto",
        "task",
        "task",
        "auto",  # service
        "auto",
        "skip",
        "auto",
    ]


# ---- bad files: every problem, with its file and line ----------------------------------------


BAD_FILES = {
    "bad_syntax.yaml": [
        "5: YAML syntax error: expected ',' or '}', but got ':' "
        "(while parsing a flow mapping that started on line 4)",
    ],
    "bad_unknown_step.yaml": [f"6: unknown step 'shiping'; steps are {STEP_LIST}"],
    "bad_strategy.yaml": [
        "8: unknown assignment strategy 'random' for step 'allocation'; "
        "strategies are round_robin, least_loaded, owner, pool or {same_as: <an earlier step>}",
        "12: unknown fallback strategy 'owner' for step 'picking'; "
        "fallbacks are round_robin, least_loaded, pool",
    ],
    "bad_no_default.yaml": ["4: no default rule: the last rule must have `default: true`"],
    "bad_duplicate.yaml": ["6: duplicate rule name 'web' (first used on line 2)"],
    "bad_duration.yaml": [
        "8: bad duration '2 hours' for the sla of step 'allocation'; "
        "use e.g. 30s, 5m, 2h, 1d or 1h30m",
        "9: bad duration '15' for `remind_after` of step 'allocation'; "
        "use e.g. 30s, 5m, 2h, 1d or 1h30m",
    ],
    "bad_many.yaml": [
        "5: unknown match key 'chanel'; match keys are channel, customer_group, country, total, "
        "tags, has_drop_ship, currency (combined with any/all)",
        "6: `total` must be a mapping like {gte: 5000}, found '5000'",
        "8: unknown channel 'webb'; channels are web, sales_rep, phone, customer_center, pos",
        "9: unknown tag match 'none'; use `any` or `all` with a list",
        "11: unknown mode 'manual' for step 'picking'; modes are auto, task, skip",
        "12: step 'packing' has mode task but no `role`",
        "13: `role` only applies to mode task (step 'invoicing' is skip)",
        "14: step 'collection' must be a mapping, found a list",
        "15: unknown rule key 'colour'; a rule has name, description, default, when, steps",
        "16: rule #2 must be a mapping, found 'just a string'",
        "17: the default rule 'default' is not the last rule (rule 'after-default' follows it "
        "on line 20); exactly one rule has `default: true` and it comes last",
        "19: the default rule 'default' has no `when`: it takes every order",
    ],
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_file_reports_every_problem_with_file_and_line(name: str, tmp_path: Path) -> None:
    path = _alone(name, tmp_path)
    expected = [f"{path}:{line_and_message}" for line_and_message in BAD_FILES[name]]
    assert check_file(path) == expected
    assert _errors(path) == expected


def test_rule_file_error_joins_messages_and_survives_pickling(tmp_path: Path) -> None:
    path = _alone("bad_strategy.yaml", tmp_path)
    with pytest.raises(RuleFileError) as caught:
        load_rule_set(tmp_path)
    assert str(caught.value) == "\n".join(caught.value.errors)
    assert str(caught.value).startswith(f"{path}:8: unknown assignment strategy 'random'")
    copy = pickle.loads(pickle.dumps(caught.value))
    assert copy.errors == caught.value.errors


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "1: the file is empty; it needs `rules:` with a list of rules"),
        ("- name: x\n", "1: the top of the file must be a mapping, found a list"),
        (
            "rules:\n" + DEFAULT_RULE + "rule: x\n",
            "4: unknown top-level key 'rule'; a rule file has `rules:`",
        ),
        (
            "version: 2\n",
            "1: unknown top-level key 'version'; a rule file has `rules:`\n"
            "1: missing `rules:` (the list of rules)",
        ),
        (
            "rules:\n  - name: a\n    when:\n      total: {}\n" + DEFAULT_RULE,
            "4: `total` needs at least one of gte, gt, lte, lt",
        ),
        ("rules:\n  name: x\n", "2: `rules` must be a list of rules, found a mapping"),
        (
            "rules:\n  - name: a\n    when: [channel: web]\n" + DEFAULT_RULE,
            "3: `when` must be a mapping, found a list",
        ),
        (
            "rules:\n  - name: a\n    when: {}\n" + DEFAULT_RULE,
            "3: `when` is empty; give at least one condition",
        ),
        (
            "rules:\n  - name: a\n    when: {channel: web}\n    steps: [quote]\n" + DEFAULT_RULE,
            "4: `steps` must be a mapping, found a list",
        ),
        (
            "rules:\n  - name: a\n" + DEFAULT_RULE,
            "2: rule 'a' has no `when`; only the default rule (`default: true`) has none",
        ),
        ("rules:\n  - when: {channel: web}\n" + DEFAULT_RULE, "2: rule #1 has no `name`"),
        (
            "rules:\n  - name: a\n    when:\n      tags: {all: []}\n" + DEFAULT_RULE,
            "4: `tags` all needs at least one value",
        ),
        (
            "rules:\n  - name: a\n    when:\n      total: {gte: 100, lt: 100}\n" + DEFAULT_RULE,
            "4: `total` range is empty: no order total can match it",
        ),
        (
            "rules:\n  - name: a\n    when:\n      total: {gte: lots}\n" + DEFAULT_RULE,
            "4: `total` gte must be a number, found 'lots'",
        ),
        (
            "rules:\n  - name: a\n    when:\n      total: {ge: 5}\n" + DEFAULT_RULE,
            "4: unknown comparison 'ge' for `total`; use gte, gt, lte or lt",
        ),
        (
            "rules:\n  - name: a\n    when: {channel: web, channel: phone}\n" + DEFAULT_RULE,
            "3: duplicate key 'channel' in `when`",
        ),
        (
            "rules:\n  - name: a\n    when: &loop {any: [*loop]}\n" + DEFAULT_RULE,
            "3: conditions are nested too deeply",
        ),
        (
            "rules:\n  - name: d\n    default: maybe\n",
            "3: `default` of rule 'd' must be true or false, found 'maybe'",
        ),
        (
            DEFAULT_STEPS + "      quote: {mode: task}\n",
            "5: step 'quote' has mode task but no `role`",
        ),
        (
            DEFAULT_STEPS + "      quote: {role: sales}\n",
            "5: step 'quote' has no `mode` (auto, task, skip)",
        ),
        (
            DEFAULT_STEPS + "      quote: {mode: auto, sla: 1h}\n",
            "5: `sla` only applies to mode task (step 'quote' is auto)",
        ),
    ],
)
def test_structural_problems(text: str, expected: str, tmp_path: Path) -> None:
    path = _write(tmp_path, "rules.yaml", text)
    assert check_file(path) == [f"{path}:{line}" for line in expected.split("\n")]


ESCALATION_CASES = [
    ("{remind_after: 1h, then: escalate, after: 4h}", "`then: escalate` needs `to_role`"),
    ("{then: reassign}", "`then` needs `after`"),
    ("{remind_after: 1h, after: 2h}", "`after` needs `then`"),
    ("{remind_after: 1h, then: reassign, after: 2h, to_role: boss}", "`to_role` only applies"),
    ("{remind_after: 1h, then: fire, after: 2h}", "unknown escalation action 'fire'"),
    ("{remind_after: 2h, then: reassign, after: 1h}", "`after` must be later than"),
    ("{}", "needs `remind_after`, `then` or both"),
]


@pytest.mark.parametrize(("escalation", "problem"), ESCALATION_CASES)
def test_escalation_problems(escalation: str, problem: str, tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "rules.yaml",
        DEFAULT_STEPS + "      quote:\n        mode: task\n        role: sales\n"
        f"        escalation: {escalation}\n",
    )
    [error] = check_file(path)
    assert error.startswith(f"{path}:8: ") and problem in error


def test_unreadable_and_non_utf8_files(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    assert check_file(missing) == [f"{missing}:1: cannot read the file: No such file or directory"]
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"rules:\n  - name: caf\xe9\n")
    assert check_file(latin) == [f"{latin}:2: the file is not UTF-8 text"]


def test_missing_or_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(RuleFileError, match="no rule files"):
        load_rule_set(tmp_path)
    with pytest.raises(RuleFileError, match="not a directory"):
        load_rule_set(tmp_path / "nope")


# ---- what parses, and how --------------------------------------------------------------------


def test_conditions_parse_to_nested_any_all(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "matching.yaml", tmp_path)
    rules = {rule.name: rule for rule in load_rule_set(tmp_path).rules}
    assert rules["fragile-and-cold"].when == TagMatch(mode="all", tags={"fragile", "cold"})
    assert rules["hazardous"].steps[3].sla == timedelta(milliseconds=500)
    phone = AllOf(
        conditions=(
            OneOf(key="channel", values={"phone"}),
            TotalRange(gte=Decimal("2000")),
            AnyOf(
                conditions=(
                    OneOf(key="customer_group", values={"vip"}),
                    TagMatch(mode="any", tags={"priority"}),
                )
            ),
        )
    )
    europe = AllOf(
        conditions=(
            OneOf(key="country", values={"DE", "FR"}),
            OneOf(key="currency", values={"EUR"}),
        )
    )
    assert rules["eu-or-big-phone"].when == AnyOf(conditions=(europe, phone))


def test_yaml_booleans_stay_text_where_text_is_expected(tmp_path: Path) -> None:
    # `NO` (Norway) and `on` would be booleans to yaml.safe_load; match values are read as text.
    _write(
        tmp_path,
        "rules.yaml",
        "rules:\n  - name: nordic\n    when: {country: [NO, SE], customer_group: on}\n"
        "    steps: {quote: skip}\n" + DEFAULT_RULE,
    )
    rule_set = load_rule_set(tmp_path)
    assert rule_set.rules[0].when == AllOf(
        conditions=(
            OneOf(key="country", values={"NO", "SE"}),
            OneOf(key="customer_group", values={"on"}),
        )
    )
    decision = rule_set.decide(OrderFacts(channel="web", country="NO", customer_group="on"))
    assert decision.rule == "nordic"


def test_tags_with_both_any_and_all_need_both(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "rules.yaml",
        "rules:\n  - name: t\n    when:\n      tags: {any: [a, b], all: [c]}\n" + DEFAULT_RULE,
    )
    rule_set = load_rule_set(tmp_path)
    assert rule_set.decide(OrderFacts(channel="web", tags={"a", "c"})).rule == "t"
    assert rule_set.decide(OrderFacts(channel="web", tags={"a"})).rule == "default"
    assert rule_set.decide(OrderFacts(channel="web", tags={"c"})).rule == "default"


def test_a_single_tag_or_a_list_means_any(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "rules.yaml",
        "rules:\n  - name: one\n    description: a single tag\n    when: {tags: a}\n"
        "  - name: list\n    when: {tags: [b, c]}\n" + DEFAULT_RULE,
    )
    rule_set = load_rule_set(tmp_path)
    assert rule_set.rules[0].description == "a single tag"
    assert rule_set.decide(OrderFacts(channel="web", tags={"a", "x"})).rule == "one"
    assert rule_set.decide(OrderFacts(channel="web", tags={"c"})).rule == "list"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("5m", timedelta(minutes=5)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("1h30m", timedelta(minutes=90)),
        ("1d 2h", timedelta(hours=26)),
        ("0.5s", timedelta(milliseconds=500)),
        ("1.5h", timedelta(minutes=90)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "30", "2 hours", "1m1h", "0s", "-5m", "1h30", "h", "1w"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


# ---- several files ---------------------------------------------------------------------------


def test_files_are_concatenated_in_name_order(tmp_path: Path) -> None:
    _write(tmp_path, "20-default.yaml", "rules:\n" + DEFAULT_RULE)
    _write(tmp_path, "10-web.yaml", "rules:\n  - name: web\n    when: {channel: web}\n")
    _write(tmp_path, "05-empty.yaml", "rules: []\n")
    _write(tmp_path, ".#20-default.yaml", "not: [yaml")  # editor scratch files are ignored
    _write(tmp_path, "notes.txt", "ignored")
    rule_set = load_rule_set(tmp_path)
    assert rule_set.files == ["05-empty.yaml", "10-web.yaml", "20-default.yaml"]
    assert [(rule.name, rule.source) for rule in rule_set.rules] == [
        ("web", "10-web.yaml:2"),
        ("default", "20-default.yaml:2"),
    ]
    assert rule_set.decide(OrderFacts(channel="web")).rule == "web"
    assert rule_set.decide(OrderFacts(channel="phone")).rule == "default"


def test_default_must_be_in_the_last_file(tmp_path: Path) -> None:
    first = _write(tmp_path, "a.yaml", "rules:\n" + DEFAULT_RULE)
    second = _write(tmp_path, "b.yaml", "rules:\n  - name: web\n    when: {channel: web}\n")
    expected_first = (
        f"{first}:2: the default rule 'default' is not the last rule (rule 'web' follows it on "
        f"{second}:2); exactly one rule has `default: true` and it comes last"
    )
    expected_second = (
        f"{second}:2: rule 'web' comes after the default rule 'default' ({first}:2); "
        "the default rule must be the last rule of the last file"
    )
    assert _errors(first) == [expected_first, expected_second]
    # Checking either file alone shows its part of the problem.
    assert check_file(first) == [expected_first]
    assert check_file(second) == [expected_second]


def test_duplicate_names_across_files_point_at_the_first(tmp_path: Path) -> None:
    first = _write(tmp_path, "a.yaml", "rules:\n  - name: web\n    when: {channel: web}\n")
    second = _write(tmp_path, "b.yaml", "rules:\n  - name: web\n    when: {channel: phone}\n")
    _write(tmp_path, "c.yaml", "rules:\n" + DEFAULT_RULE)
    expected = f"{second}:2: duplicate rule name 'web' (first used on {first}:2)"
    assert _errors(first) == [expected]
    assert check_file(first) == []
    assert check_file(second) == [expected]


def test_check_file_sees_the_set_it_belongs_to(tmp_path: Path) -> None:
    # A file without a default is fine when a later file in its folder supplies it ...
    special = _write(tmp_path, "10-special.yaml", "rules:\n  - name: b\n    when: {country: DE}\n")
    _write(tmp_path, "99-default.yaml", "rules:\n" + DEFAULT_RULE)
    assert check_file(special) == []
    # ... and problems of other files in the folder are not this file's problems.
    _write(tmp_path, "50-broken.yaml", "rules: [")
    assert check_file(special) == []
    assert len(_errors(special)) == 1


def test_every_file_contributes_its_errors(tmp_path: Path) -> None:
    one = _write(tmp_path, "1.yaml", "rules:\n  - name: a\n    when: {chanel: web}\n")
    two = _write(
        tmp_path, "2.yaml", "rules:\n  - name: d\n    default: true\n    steps: {x: auto}\n"
    )
    assert [error.split(": ")[0] for error in _errors(one)] == [f"{one}:3", f"{two}:4"]


# ---- versions --------------------------------------------------------------------------------


def test_version_is_stable_and_changes_with_any_file(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(SHIPPED, rules)
    original = load_rule_set(rules).version
    assert load_rule_set(rules).version == original
    assert load_rule_set(SHIPPED).version == original  # depends on names and contents only

    path = rules / "default.yaml"
    path.write_text(path.read_text() + "\n# a comment is a change too\n")
    edited = load_rule_set(rules).version
    assert edited != original

    _write(rules, "00-extra.yaml", "rules: []\n")
    added = load_rule_set(rules).version
    assert added not in (original, edited)

    (rules / "00-extra.yaml").rename(rules / "01-extra.yaml")
    assert load_rule_set(rules).version not in (original, edited, added)


def test_rules_version_hashes_sorted_names_and_contents() -> None:
    files = [("b.yaml", b"rules: []"), ("a.yaml", b"x")]
    assert rules_version(files) == rules_version(reversed(files))
    assert rules_version(files) != rules_version([("b.yaml", b"rules: []x"), ("a.yaml", b"")])
    assert len(rules_version(files)) == 12
