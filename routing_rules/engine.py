"""Pure rule matching: the first rule whose condition holds for an order decides its plan."""

from collections.abc import Sequence

from routing_rules.models import (
    AllOf,
    AnyOf,
    Condition,
    Decision,
    DropShip,
    OneOf,
    OrderFacts,
    Rule,
    TagMatch,
    TotalRange,
)


def matches(condition: Condition, facts: OrderFacts) -> bool:
    """Whether `condition` holds for an order with these facts."""
    match condition:
        case AllOf(conditions=inner):
            return all(matches(c, facts) for c in inner)
        case AnyOf(conditions=inner):
            return any(matches(c, facts) for c in inner)
        case OneOf(key=key, values=values):
            return getattr(facts, key) in values
        case TotalRange(gte=gte, gt=gt, lte=lte, lt=lt):
            total = facts.total
            return (
                (gte is None or total >= gte)
                and (gt is None or total > gt)
                and (lte is None or total <= lte)
                and (lt is None or total < lt)
            )
        case TagMatch(mode="any", tags=tags):
            return not tags.isdisjoint(facts.tags)
        case TagMatch(mode="all", tags=tags):
            return tags <= facts.tags
        case DropShip(value=value):
            return facts.has_drop_ship == value
    raise TypeError(f"not a condition: {condition!r}")


def rule_matches(rule: Rule, facts: OrderFacts) -> bool:
    """Whether `rule` applies to an order: the default rule applies to every order."""
    return rule.when is None or matches(rule.when, facts)


def decide(rules: Sequence[Rule], version: str, facts: OrderFacts) -> Decision:
    """The decision of the first matching rule; raises LookupError when none matches."""
    for rule in rules:
        if rule_matches(rule, facts):
            return Decision(rule=rule.name, version=version, steps=list(rule.steps))
    # A loaded rule set always ends with a default rule, so only hand-built lists get here.
    raise LookupError("no routing rule matched and there is no default rule")
