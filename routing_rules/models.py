"""Typed routing-rule objects: order facts, conditions, step routes, rules and decisions."""

from collections.abc import Iterable
from datetime import timedelta
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

STEPS: tuple[str, ...] = (
    "quote",
    "stock_check",
    "allocation",
    "picking",
    "packing",
    "service",
    "invoicing",
    "delivery",
    "collection",
)
MODES: tuple[str, ...] = ("auto", "task", "skip")
STRATEGIES: tuple[str, ...] = ("round_robin", "least_loaded", "owner", "pool")
# `assign: {same_as: picking}`: the person who completed that earlier step of the order, kept
# as the strategy "same:picking" (it fits the task's 16-character strategy column).
SAME_AS = "same:"
FALLBACKS: tuple[str, ...] = ("round_robin", "least_loaded", "pool")
CHANNELS: tuple[str, ...] = ("web", "sales_rep", "phone", "customer_center", "pos")

Mode = Literal["auto", "task", "skip"]
# The mode of a step a rule does not name: `auto`, but `delivery` is skipped (delivered when
# packed) unless a rule asks for it, so rules written before the delivery step keep completing.
# `service` runs only for orders with service lines: `auto` waits for staff to confirm the
# service delivered, `task` gives that confirmation to a person, `skip` invoices at once.
DEFAULT_MODES: dict[str, Mode] = {"delivery": "skip"}
Fallback = Literal["round_robin", "least_loaded", "pool"]

_FROZEN = ConfigDict(frozen=True)


class OrderFacts(BaseModel):
    """What a rule may match on, gathered from the order, its customer and its products."""

    model_config = _FROZEN

    channel: str  # web | sales_rep | phone | customer_center | pos
    customer_group: str = "retail"
    country: str = "US"
    total: Decimal = Decimal("0")
    currency: str = "USD"
    tags: frozenset[str] = frozenset()  # union of the product tags of all lines
    has_drop_ship: bool = False


class Escalation(BaseModel):
    """Remind the assignee after a while, then optionally reassign or escalate the task."""

    model_config = _FROZEN

    remind_after: timedelta | None  # remind the assignee after this
    then: Literal["reassign", "escalate"] | None = None
    after: timedelta | None = None  # when `then` happens, measured from task creation
    to_role: str | None = None  # for escalate: the supervisor role

    @model_validator(mode="after")
    def _consistent(self) -> "Escalation":
        if self.then is not None and self.after is None:
            raise ValueError(f"`then: {self.then}` needs `after`")
        if self.then is None and self.after is not None:
            raise ValueError("`after` needs `then` (reassign or escalate)")
        if self.then == "escalate" and not self.to_role:
            raise ValueError("`then: escalate` needs `to_role`")
        if self.to_role is not None and self.then != "escalate":
            raise ValueError("`to_role` only applies to `then: escalate`")
        return self


class StepRoute(BaseModel):
    """How one step of one order runs: automatically, as a task for a role, or not at all."""

    model_config = _FROZEN

    step: str
    mode: Mode
    role: str | None = None  # required when mode == task
    assign: str = "pool"  # one of STRATEGIES, or SAME_AS + an earlier step
    fallback: Fallback = "pool"  # used by `owner` (no rep) and `same_as` (that person is away)
    sla: timedelta | None = None
    escalation: Escalation | None = None

    @model_validator(mode="after")
    def _consistent(self) -> "StepRoute":
        if self.step not in STEPS:
            raise ValueError(f"unknown step {self.step!r}; steps are {', '.join(STEPS)}")
        if self.mode == "task" and not self.role:
            raise ValueError(f"step {self.step!r} has mode task but no role")
        earlier = same_as(self.assign)
        if self.assign not in STRATEGIES and earlier is None:
            raise ValueError(f"unknown assignment strategy {self.assign!r}")
        if earlier is not None and (earlier not in STEPS or STEPS.index(earlier) >= self.position):
            raise ValueError(
                f"step {self.step!r}: `same_as` names an earlier step, not {earlier!r}"
            )
        return self

    @property
    def position(self) -> int:
        """Where the step comes in the order's run (0 for the quote)."""
        return STEPS.index(self.step)


def same_as(strategy: str) -> str | None:
    """The step whose doer a `same_as` strategy names; None for the other strategies."""
    return strategy.removeprefix(SAME_AS) if strategy.startswith(SAME_AS) else None


# ---- conditions (the `when` of a rule) -------------------------------------------------------


class AllOf(BaseModel):
    """Matches when every inner condition matches."""

    model_config = _FROZEN

    kind: Literal["all"] = "all"
    conditions: tuple["Condition", ...]


class AnyOf(BaseModel):
    """Matches when at least one inner condition matches."""

    model_config = _FROZEN

    kind: Literal["any"] = "any"
    conditions: tuple["Condition", ...]


class OneOf(BaseModel):
    """Matches when a text fact (channel, customer group, country, currency) is one of values."""

    model_config = _FROZEN

    kind: Literal["one_of"] = "one_of"
    key: Literal["channel", "customer_group", "country", "currency"]
    values: frozenset[str]


class TotalRange(BaseModel):
    """Matches when the order total lies within the given bounds."""

    model_config = _FROZEN

    kind: Literal["total"] = "total"
    gte: Decimal | None = None
    gt: Decimal | None = None
    lte: Decimal | None = None
    lt: Decimal | None = None


class TagMatch(BaseModel):
    """Matches on the order's product tags: any of them present, or all of them present."""

    model_config = _FROZEN

    kind: Literal["tags"] = "tags"
    mode: Literal["any", "all"]
    tags: frozenset[str]


class DropShip(BaseModel):
    """Matches on whether the order has drop-ship lines."""

    model_config = _FROZEN

    kind: Literal["has_drop_ship"] = "has_drop_ship"
    value: bool


Condition = Annotated[
    AllOf | AnyOf | OneOf | TotalRange | TagMatch | DropShip, Field(discriminator="kind")
]
AllOf.model_rebuild()
AnyOf.model_rebuild()


# ---- rules and decisions ---------------------------------------------------------------------


def complete_steps(routes: Iterable[StepRoute]) -> tuple[StepRoute, ...]:
    """All the steps in order: the given routes, and the default mode (`DEFAULT_MODES`, else
    `auto`) for every step not given."""
    given: dict[str, StepRoute] = {}
    for route in routes:
        if route.step in given:
            raise ValueError(f"step {route.step!r} is given twice")
        given[route.step] = route
    return tuple(
        given.get(step) or StepRoute(step=step, mode=DEFAULT_MODES.get(step, "auto"))
        for step in STEPS
    )


class Rule(BaseModel):
    """One routing rule: a condition (none for the default rule) and a plan for every step."""

    model_config = _FROZEN

    name: str
    default: bool = False
    when: Condition | None = None
    steps: tuple[StepRoute, ...] = ()  # completed to all the steps, in order
    description: str | None = None
    source: str = ""  # "file.yaml:LINE" where the rule starts, for messages and the rules page

    @field_validator("steps", mode="after")
    @classmethod
    def _all_seven(cls, steps: tuple[StepRoute, ...]) -> tuple[StepRoute, ...]:
        steps = complete_steps(steps)
        for route in steps:
            earlier = same_as(route.assign)
            if earlier is not None and steps[STEPS.index(earlier)].mode != "task":
                raise ValueError(
                    f"step {route.step!r} is assigned like {earlier!r}, which is no task here: "
                    "nobody does it"
                )
        return steps

    @model_validator(mode="after")
    def _default_has_no_condition(self) -> "Rule":
        if self.default and self.when is not None:
            raise ValueError("the default rule has no `when`")
        if not self.default and self.when is None:
            raise ValueError(f"rule {self.name!r} needs a `when` (only the default matches all)")
        return self


class Decision(BaseModel):
    """Which rule routed an order, under which rule-set version, and the plan for every step."""

    model_config = _FROZEN

    rule: str  # the matched rule's name
    version: str  # the rule set's version
    steps: list[StepRoute]  # always all the steps, in order


class RuleFileError(Exception):
    """One or more problems in rule files, each as "path/to/file.yaml:LINE: message"."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__(list(errors))  # args stay (errors,), so the error pickles faithfully
        self.errors = list(errors)

    def __str__(self) -> str:
        return "\n".join(self.errors)
