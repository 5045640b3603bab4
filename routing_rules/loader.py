"""Read routing-rule YAML files into a typed, versioned rule set, with line-precise errors."""

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from routing_rules import engine
from routing_rules.models import (
    CHANNELS,
    FALLBACKS,
    MODES,
    SAME_AS,
    STEPS,
    STRATEGIES,
    AllOf,
    AnyOf,
    Condition,
    Decision,
    DropShip,
    Escalation,
    OneOf,
    OrderFacts,
    Rule,
    RuleFileError,
    StepRoute,
    TagMatch,
    TotalRange,
    same_as,
)

__all__ = ["RuleSet", "check_file", "load_rule_set", "parse_duration", "rules_version"]

MATCH_KEYS = ("channel", "customer_group", "country", "total", "tags", "has_drop_ship", "currency")
TEXT_KEYS = ("channel", "customer_group", "country", "currency")
RULE_KEYS = ("name", "description", "default", "when", "steps")
STEP_SETTINGS = ("mode", "role", "assign", "fallback", "sla", "escalation")
ESCALATION_KEYS = ("remind_after", "then", "after", "to_role")
COMPARISONS = ("gte", "gt", "lte", "lt")

_NULL_TAG = "tag:yaml.org,2002:null"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_MAX_DEPTH = 32  # guards against recursive YAML aliases in `when`
_NUMBER = r"(\d+(?:\.\d+)?)"
_DURATION = re.compile(
    rf"(?:{_NUMBER}d)?\s*(?:{_NUMBER}h)?\s*(?:{_NUMBER}m)?\s*(?:{_NUMBER}s)?", re.ASCII
)
_UNIT_SECONDS = (86400, 3600, 60, 1)


def parse_duration(text: str) -> timedelta:
    """`30s`, `5m`, `2h`, `1d`, `1h30m` or `0.5s` as a timedelta; ValueError when malformed."""
    found = _DURATION.fullmatch(text.strip())
    if not text.strip() or found is None:
        raise ValueError(f"bad duration {text!r}")
    seconds = sum(
        Decimal(amount) * unit
        for amount, unit in zip(found.groups(), _UNIT_SECONDS, strict=True)
        if amount is not None
    )
    if seconds <= 0:
        raise ValueError(f"duration {text!r} is not positive")
    return timedelta(seconds=float(seconds))


def rules_version(files: Iterable[tuple[str, bytes]]) -> str:
    """First 12 hex digits of a sha256 over every (file name, contents), sorted by name."""
    digest = hashlib.sha256()
    for name, data in sorted(files):
        # Length-prefix each part so that no two different file sets hash the same bytes.
        for part in (name.encode(), data):
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)
    return digest.hexdigest()[:12]


class RuleSet(BaseModel):
    """The rules in force (in match order) and the version they are recorded under."""

    model_config = ConfigDict(frozen=True)

    version: str
    rules: list[Rule]
    files: list[str] = []

    def decide(self, facts: OrderFacts) -> Decision:
        """The decision of the first rule that matches these order facts."""
        return engine.decide(self.rules, self.version, facts)


def load_rule_set(directory: Path) -> RuleSet:
    """Read every `*.yaml` in `directory` (by name); raises RuleFileError listing every problem."""
    directory = Path(directory)
    if not directory.is_dir():
        raise RuleFileError([f"{directory}: not a directory of rule files"])
    paths = _rule_files(directory)
    if not paths:
        raise RuleFileError([f"{directory}: no rule files (*.yaml) in this directory"])
    contents = [(path, _read(path)) for path in paths]
    rules, problems = _check_set(contents)
    if problems:
        raise RuleFileError([str(problem) for problem in problems])
    version = rules_version((path.name, data) for path, data in contents if isinstance(data, bytes))
    return RuleSet(version=version, rules=rules, files=[path.name for path in paths])


def check_file(path: Path) -> list[str]:
    """The problems of one rule file, [] when fine, as loading its directory would report them.

    The file is checked together with the other `*.yaml` files beside it, so that rule-set-wide
    checks (one default rule, last; unique names) see the whole set; only this file's problems
    are returned. A file alone in its directory is checked as a complete rule set.
    """
    path = Path(path)
    siblings = _rule_files(path.parent) if path.parent.is_dir() else []
    if any(sibling.name == path.name for sibling in siblings):
        paths = [path if sibling.name == path.name else sibling for sibling in siblings]
    else:
        paths = sorted([*siblings, path], key=lambda p: p.name)
    _, problems = _check_set([(p, _read(p)) for p in paths])
    return [str(problem) for problem in problems if problem.path == str(path)]


# ---- reading files ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Problem:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass
class _Entry:
    """What the set-wide checks need from one rule, even when the rule itself has problems."""

    name: str | None
    default: bool | None  # None: unknown, because the rule could not be read that far
    line: int
    rule: Rule | None  # None when the rule has problems


@dataclass
class _FileResult:
    path: str
    problems: list[_Problem] = field(default_factory=list)
    entries: list[_Entry] = field(default_factory=list)
    parsed: bool = False  # whether the `rules:` list could be walked
    rules_line: int = 1


def _rule_files(directory: Path) -> list[Path]:
    """The visible `*.yaml` files of a directory, sorted by name (editor temp files skipped)."""
    return sorted(
        (p for p in directory.glob("*.yaml") if not p.name.startswith(".") and p.is_file()),
        key=lambda p: p.name,
    )


def _read(path: Path) -> bytes | _Problem:
    try:
        return path.read_bytes()
    except OSError as exc:
        return _Problem(str(path), 1, f"cannot read the file: {exc.strerror or exc}")


def _check_set(contents: list[tuple[Path, bytes | _Problem]]) -> tuple[list[Rule], list[_Problem]]:
    """Every rule of every file, in order, and every problem, ordered by file and line."""
    results: list[_FileResult] = []
    for path, data in contents:
        if isinstance(data, _Problem):
            results.append(_FileResult(str(path), problems=[data]))
        else:
            results.append(_FileReader(str(path)).read(data))
    problems = [problem for result in results for problem in result.problems]
    problems += _set_problems(results)
    order = {result.path: index for index, result in enumerate(results)}
    problems.sort(key=lambda p: (order.get(p.path, len(order)), p.line))
    rules = [e.rule for result in results for e in result.entries if e.rule is not None]
    return rules, problems


def _set_problems(results: list[_FileResult]) -> list[_Problem]:
    """Problems across files: duplicate rule names, and the default rule missing or not last."""
    problems: list[_Problem] = []
    flat = [(result.path, entry) for result in results for entry in result.entries]
    first_seen: dict[str, tuple[str, int]] = {}
    for path, entry in flat:
        if entry.name is None:
            continue
        if entry.name not in first_seen:
            first_seen[entry.name] = (path, entry.line)
            continue
        first_path, first_line = first_seen[entry.name]
        where = f"line {first_line}" if first_path == path else f"{first_path}:{first_line}"
        problems.append(
            _Problem(
                path, entry.line, f"duplicate rule name {entry.name!r} (first used on {where})"
            )
        )

    for index, (path, entry) in enumerate(flat[:-1]):
        if not entry.default:
            continue
        next_path, follower = flat[index + 1]
        label = f"rule {follower.name!r}" if follower.name else "another rule"
        here = f"line {follower.line}" if next_path == path else f"{next_path}:{follower.line}"
        problems.append(
            _Problem(
                path,
                entry.line,
                f"the default rule {entry.name!r} is not the last rule ({label} follows it on "
                f"{here}); exactly one rule has `default: true` and it comes last",
            )
        )
        if next_path != path:
            # Reported in the follower's file too, so checking that file alone shows it.
            problems.append(
                _Problem(
                    next_path,
                    follower.line,
                    f"{label} comes after the default rule {entry.name!r} ({path}:{entry.line}); "
                    "the default rule must be the last rule of the last file",
                )
            )

    known = all(result.parsed for result in results) and all(e.default is not None for _, e in flat)
    if known and results and not any(entry.default for _, entry in flat):
        last = results[-1]
        line = last.entries[-1].line if last.entries else last.rules_line
        problems.append(
            _Problem(last.path, line, "no default rule: the last rule must have `default: true`")
        )
    return problems


# ---- walking one file's YAML nodes -----------------------------------------------------------


def _describe(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if node.tag == _NULL_TAG:
        return "nothing"
    return repr(node.value)


def _is_value(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag != _NULL_TAG and node.value.strip() != ""


def _line(node: Node) -> int:
    return node.start_mark.line + 1


_Entries = dict[str, tuple[Node, Node]]


class _FileReader:
    """Walks one file's YAML nodes into rules, collecting every problem with its line."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.result = _FileResult(path)

    # -- plumbing

    def _error(self, node: Node | int, message: str) -> None:
        line = node if isinstance(node, int) else _line(node)
        self.result.problems.append(_Problem(self.path, line, message))

    def _count(self) -> int:
        return len(self.result.problems)

    def _mapping(self, node: Node, what: str) -> _Entries | None:
        """The entries of a mapping node by key; reports non-mappings and duplicate keys."""
        if not isinstance(node, MappingNode):
            self._error(node, f"{what} must be a mapping, found {_describe(node)}")
            return None
        entries: _Entries = {}
        for key_node, value_node in node.value:
            if not _is_value(key_node):
                self._error(key_node, f"the keys of {what} must be names")
                continue
            key = key_node.value
            if key in entries:
                self._error(key_node, f"duplicate key {key!r} in {what}")
                continue
            entries[key] = (key_node, value_node)
        return entries

    def _unknown_keys(self, entries: _Entries, known: tuple[str, ...], message: str) -> None:
        for key, (key_node, _) in entries.items():
            if key not in known:
                self._error(key_node, message.format(key=repr(key), known=", ".join(known)))

    def _text(self, node: Node, what: str) -> str | None:
        if _is_value(node):
            return node.value.strip()
        self._error(node, f"{what} must be a text value, found {_describe(node)}")
        return None

    def _bool(self, node: Node, what: str) -> bool | None:
        if isinstance(node, ScalarNode) and node.tag == _BOOL_TAG:
            return node.value.lower() in ("true", "yes", "on")
        self._error(node, f"{what} must be true or false, found {_describe(node)}")
        return None

    def _choice(self, node: Node, choices: tuple[str, ...], message: str) -> str | None:
        """A value that must be one of `choices`; `message` is formatted with the bad value."""
        if _is_value(node) and node.value.strip() in choices:
            return node.value.strip()
        self._error(node, message.format(_describe(node)))
        return None

    def _duration(self, node: Node, what: str) -> timedelta | None:
        if _is_value(node):
            try:
                return parse_duration(node.value)
            except ValueError:
                pass
        self._error(
            node, f"bad duration {_describe(node)} for {what}; use e.g. 30s, 5m, 2h, 1d or 1h30m"
        )
        return None

    def _validation(self, node: Node, exc: ValidationError) -> None:
        for error in exc.errors():
            self._error(node, str(error["msg"]).removeprefix("Value error, "))

    # -- the document

    def read(self, data: bytes) -> _FileResult:
        """Every rule of the file and every problem in it."""
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            self._error(data[: exc.start].count(b"\n") + 1, "the file is not UTF-8 text")
            return self.result
        try:
            document = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            self._syntax_error(exc)
            return self.result
        except yaml.reader.ReaderError as exc:
            line = text[: exc.position].count("\n") + 1
            self._error(line, f"YAML syntax error: {exc.reason} (character #x{exc.character:04x})")
            return self.result
        if document is None:
            self._error(1, "the file is empty; it needs `rules:` with a list of rules")
            return self.result
        top = self._mapping(document, "the top of the file")
        if top is None:
            return self.result
        self._unknown_keys(top, ("rules",), "unknown top-level key {key}; a rule file has `rules:`")
        if "rules" not in top:
            self._error(document, "missing `rules:` (the list of rules)")
            return self.result
        key_node, rules_node = top["rules"]
        self.result.rules_line = _line(key_node)
        if not isinstance(rules_node, SequenceNode):
            self._error(
                rules_node, f"`rules` must be a list of rules, found {_describe(rules_node)}"
            )
            return self.result
        self.result.parsed = True
        for index, rule_node in enumerate(rules_node.value, start=1):
            self.result.entries.append(self._rule(rule_node, index))
        return self.result

    def _syntax_error(self, exc: yaml.MarkedYAMLError) -> None:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        message = f"YAML syntax error: {exc.problem or exc.context or 'invalid YAML'}"
        if exc.problem and exc.context:
            context = exc.context
            if exc.context_mark is not None and exc.context_mark.line + 1 != line:
                context += f" that started on line {exc.context_mark.line + 1}"
            message += f" ({context})"
        self._error(line, message)

    # -- rules

    def _rule(self, node: Node, index: int) -> _Entry:
        entries = self._mapping(node, f"rule #{index}")
        if entries is None:
            return _Entry(None, None, _line(node), None)
        before = self._count()
        self._unknown_keys(entries, RULE_KEYS, "unknown rule key {key}; a rule has {known}")
        name = None
        if "name" in entries:
            name = self._text(entries["name"][1], "the rule name")
        else:
            self._error(node, f"rule #{index} has no `name`")
        label = f"rule {name!r}" if name else f"rule #{index}"
        default: bool | None = False
        if "default" in entries:
            default = self._bool(entries["default"][1], f"`default` of {label}")
        when = None
        if "when" in entries:
            key_node, value_node = entries["when"]
            if default:
                self._error(key_node, f"the default {label} has no `when`: it takes every order")
            else:
                when = self._condition(value_node, "`when`", 0)
        elif default is False:
            self._error(
                node, f"{label} has no `when`; only the default rule (`default: true`) has none"
            )
        routes = self._steps(entries["steps"][1]) if "steps" in entries else []
        description = None
        if "description" in entries:
            description = self._text(entries["description"][1], f"the description of {label}")
        rule = None
        if self._count() == before and name is not None and default is not None:
            try:
                rule = Rule(
                    name=name,
                    default=default,
                    when=when,
                    steps=tuple(routes),
                    description=description,
                    source=f"{Path(self.path).name}:{_line(node)}",
                )
            except ValidationError as exc:
                self._validation(node, exc)
        return _Entry(name, default, _line(node), rule)

    # -- steps

    def _steps(self, node: Node) -> list[StepRoute]:
        entries = self._mapping(node, "`steps`")
        if entries is None:
            return []
        routes = []
        for step, (key_node, value_node) in entries.items():
            if step not in STEPS:
                self._error(key_node, f"unknown step {step!r}; steps are {', '.join(STEPS)}")
                continue
            route = self._step(step, key_node, value_node)
            if route is not None:
                routes.append(route)
        return routes

    def _step(self, step: str, key_node: Node, node: Node) -> StepRoute | None:
        label = f"step {step!r}"
        if _is_value(node):  # shorthand: `quote: skip`
            settings: _Entries | None = {"mode": (key_node, node)}
        else:
            settings = self._mapping(node, label)
        if settings is None:
            return None
        before = self._count()
        self._unknown_keys(
            settings, STEP_SETTINGS, f"unknown setting {{key}} for {label}; settings are {{known}}"
        )
        mode = None
        if "mode" in settings:
            mode = self._choice(
                settings["mode"][1],
                MODES,
                f"unknown mode {{}} for {label}; modes are {', '.join(MODES)}",
            )
        else:
            self._error(key_node, f"{label} has no `mode` ({', '.join(MODES)})")
        if mode in ("auto", "skip"):
            for key in STEP_SETTINGS[1:]:
                if key == "sla" and (step, mode) == ("delivery", "auto"):
                    continue  # a shipment not delivered within it is late: the desk chases it
                if key in settings:
                    self._error(
                        settings[key][0], f"`{key}` only applies to mode task ({label} is {mode})"
                    )
        role = None
        if "role" in settings:
            role = self._text(settings["role"][1], f"the role of {label}")
        elif mode == "task":
            self._error(key_node, f"{label} has mode task but no `role`")
        assign, fallback = self._strategy(settings, step, label)
        sla = None
        if "sla" in settings:
            sla = self._duration(settings["sla"][1], f"the sla of {label}")
        escalation = None
        if "escalation" in settings:
            escalation = self._escalation(settings["escalation"][1], label)
        if self._count() != before:
            return None
        try:
            return StepRoute(
                step=step,
                mode=mode,
                role=role,
                assign=assign,
                fallback=fallback,
                sla=sla,
                escalation=escalation,
            )
        except ValidationError as exc:
            self._validation(key_node, exc)
            return None

    def _strategy(self, settings: _Entries, step: str, label: str) -> tuple[str | None, str | None]:
        """A task's `assign` strategy and the `fallback` that `owner` and `same_as` use (both
        default pool)."""
        assign: str | None = "pool"
        if "assign" in settings and isinstance(settings["assign"][1], MappingNode):
            assign = self._same_as(settings["assign"][1], step, label)
        elif "assign" in settings:
            assign = self._choice(
                settings["assign"][1],
                STRATEGIES,
                f"unknown assignment strategy {{}} for {label}; strategies are "
                f"{', '.join(STRATEGIES)} or {{{{same_as: <an earlier step>}}}}",
            )
        fallback: str | None = "pool"
        if "fallback" in settings:
            fallback = self._choice(
                settings["fallback"][1],
                FALLBACKS,
                f"unknown fallback strategy {{}} for {label}; fallbacks are {', '.join(FALLBACKS)}",
            )
            if assign is not None and assign != "owner" and same_as(assign) is None:
                self._error(
                    settings["fallback"][0],
                    f"`fallback` only applies to `assign: owner` or `same_as` ({label} uses "
                    f"{assign})",
                )
        return assign, fallback

    def _same_as(self, node: MappingNode, step: str, label: str) -> str | None:
        """`assign: {same_as: picking}`: whoever completed that earlier step of the order."""
        entries = self._mapping(node, f"the `assign` of {label}")
        if entries is None:
            return None
        if set(entries) != {"same_as"}:
            self._error(node, f"the `assign` of {label} is a strategy or {{same_as: <step>}}")
            return None
        earlier = STEPS[: STEPS.index(step)]
        chosen = self._choice(
            entries["same_as"][1],
            earlier,
            f"`same_as` of {label} names an earlier step ({', '.join(earlier) or 'none'}), "
            "not {}",
        )
        return None if chosen is None else SAME_AS + chosen

    def _escalation(self, node: Node, label: str) -> Escalation | None:
        what = f"the escalation of {label}"
        entries = self._mapping(node, what)
        if entries is None:
            return None
        before = self._count()
        self._unknown_keys(
            entries, ESCALATION_KEYS, f"unknown setting {{key}} in {what}; settings are {{known}}"
        )
        remind_after = after = None
        then = to_role = None
        if "remind_after" in entries:
            remind_after = self._duration(entries["remind_after"][1], f"`remind_after` of {label}")
        if "then" in entries:
            then = self._choice(
                entries["then"][1],
                ("reassign", "escalate"),
                f"unknown escalation action {{}} in {what}; actions are reassign, escalate",
            )
            if "after" not in entries:
                self._error(entries["then"][0], f"`then` needs `after` in {what}")
            if then == "escalate" and "to_role" not in entries:
                self._error(entries["then"][0], f"`then: escalate` needs `to_role` in {what}")
        elif "remind_after" not in entries:
            self._error(node, f"{what} needs `remind_after`, `then` or both")
        if "after" in entries:
            after = self._duration(entries["after"][1], f"`after` of {label}")
            if "then" not in entries:
                self._error(entries["after"][0], f"`after` needs `then` in {what}")
        if "to_role" in entries:
            to_role = self._text(entries["to_role"][1], f"`to_role` of {label}")
            if then != "escalate" and ("then" not in entries or then is not None):
                self._error(entries["to_role"][0], "`to_role` only applies to `then: escalate`")
        if remind_after is not None and after is not None and after <= remind_after:
            self._error(
                entries["after"][1],
                f"`after` must be later than `remind_after` in {what} (both count from when "
                "the task was created)",
            )
        if self._count() != before:
            return None
        try:
            return Escalation(remind_after=remind_after, then=then, after=after, to_role=to_role)
        except ValidationError as exc:
            self._validation(node, exc)
            return None

    # -- conditions

    def _condition(self, node: Node, what: str, depth: int) -> Condition | None:
        """A mapping of match keys and `any`/`all` lists; a mapping means all of its entries."""
        if depth > _MAX_DEPTH:
            self._error(node, "conditions are nested too deeply")
            return None
        entries = self._mapping(node, what)
        if entries is None:
            return None
        if not entries:
            self._error(node, f"{what} is empty; give at least one condition")
            return None
        parts: list[Condition | None] = []
        for key, (key_node, value_node) in entries.items():
            if key in ("any", "all"):
                parts.append(self._combination(key, value_node, depth))
            elif key in MATCH_KEYS:
                parts.append(self._match(key, value_node))
            else:
                self._error(
                    key_node,
                    f"unknown match key {key!r}; match keys are {', '.join(MATCH_KEYS)} "
                    "(combined with any/all)",
                )
                parts.append(None)
        valid = [part for part in parts if part is not None]
        if len(valid) != len(parts):
            return None
        return valid[0] if len(valid) == 1 else AllOf(conditions=tuple(valid))

    def _combination(self, kind: str, node: Node, depth: int) -> Condition | None:
        if not isinstance(node, SequenceNode):
            self._error(node, f"`{kind}` takes a list of conditions, found {_describe(node)}")
            return None
        if not node.value:
            self._error(node, f"`{kind}` needs at least one condition")
            return None
        items = [self._condition(item, f"each entry of `{kind}`", depth + 1) for item in node.value]
        valid = tuple(item for item in items if item is not None)
        if len(valid) != len(items):
            return None
        return AllOf(conditions=valid) if kind == "all" else AnyOf(conditions=valid)

    def _match(self, key: str, node: Node) -> Condition | None:
        if key in TEXT_KEYS:
            values = self._values(node, f"`{key}`")
            if values is None:
                return None
            if key == "channel":
                unknown = [n for n in values if n.value.strip() not in CHANNELS]
                for value_node in unknown:
                    self._error(
                        value_node,
                        f"unknown channel {value_node.value.strip()!r}; "
                        f"channels are {', '.join(CHANNELS)}",
                    )
                if unknown:
                    return None
            return OneOf(key=key, values=frozenset(n.value.strip() for n in values))
        if key == "total":
            return self._total(node)
        if key == "tags":
            return self._tags(node)
        value = self._bool(node, "`has_drop_ship`")
        return None if value is None else DropShip(value=value)

    def _values(self, node: Node, what: str) -> list[ScalarNode] | None:
        """One value or a list of values (the fact must equal one of them)."""
        items = node.value if isinstance(node, SequenceNode) else [node]
        if isinstance(node, SequenceNode) and not items:
            self._error(node, f"{what} needs at least one value")
            return None
        bad = [item for item in items if not _is_value(item)]
        for item in bad:
            self._error(item, f"{what} takes a value or a list of values, found {_describe(item)}")
        return None if bad else items

    def _total(self, node: Node) -> Condition | None:
        if not isinstance(node, MappingNode):
            self._error(
                node, f"`total` must be a mapping like {{gte: 5000}}, found {_describe(node)}"
            )
            return None
        entries = self._mapping(node, "`total`")
        if entries is None:
            return None
        before = self._count()
        self._unknown_keys(
            entries, COMPARISONS, "unknown comparison {key} for `total`; use gte, gt, lte or lt"
        )
        if not entries:
            self._error(node, "`total` needs at least one of gte, gt, lte, lt")
        bounds: dict[str, Decimal] = {}
        for op in COMPARISONS:
            if op in entries:
                amount = self._number(entries[op][1], f"`total` {op}")
                if amount is not None:
                    bounds[op] = amount
        for low, high in (("gte", "gt"), ("lte", "lt")):
            if low in entries and high in entries:
                self._error(entries[high][0], f"`total` has both {low} and {high}; use one")
        if self._count() != before:
            return None
        condition = TotalRange(**bounds)
        lower = condition.gte if condition.gte is not None else condition.gt
        upper = condition.lte if condition.lte is not None else condition.lt
        if lower is not None and upper is not None:
            inclusive = condition.gte is not None and condition.lte is not None
            if lower > upper or (lower == upper and not inclusive):
                self._error(node, "`total` range is empty: no order total can match it")
                return None
        return condition

    def _number(self, node: Node, what: str) -> Decimal | None:
        if _is_value(node):
            try:
                amount = Decimal(node.value.strip().replace("_", ""))
            except InvalidOperation:
                amount = None
            if amount is not None and amount.is_finite():
                return amount
        self._error(node, f"{what} must be a number, found {_describe(node)}")
        return None

    def _tags(self, node: Node) -> Condition | None:
        if not isinstance(node, MappingNode):  # a value or a list: any of them
            values = self._values(node, "`tags`")
            if values is None:
                return None
            return TagMatch(mode="any", tags=frozenset(n.value.strip() for n in values))
        entries = self._mapping(node, "`tags`")
        if entries is None:
            return None
        if not entries:
            self._error(node, "`tags` needs `any` or `all`")
            return None
        self._unknown_keys(
            entries, ("any", "all"), "unknown tag match {key}; use `any` or `all` with a list"
        )
        parts = []
        for mode in ("any", "all"):
            if mode in entries:
                values = self._values(entries[mode][1], f"`tags` {mode}")
                if values is not None:
                    parts.append(
                        TagMatch(mode=mode, tags=frozenset(n.value.strip() for n in values))
                    )
        if len(parts) != len(entries):
            return None
        return parts[0] if len(parts) == 1 else AllOf(conditions=tuple(parts))
