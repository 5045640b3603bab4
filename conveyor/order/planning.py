"""Route an order by the rules in force: the rule recorded on it, doubtful web orders reviewed."""

from dataclasses import dataclass

from sqlmodel import Session

from conveyor.order import service as order_service
from conveyor.order import services as order_services
from conveyor.order.models import SalesOrder
from conveyor.order.routing import facts_for
from conveyor.purchasing import service as purchasing_service
from routing_rules.loader import RuleSet
from routing_rules.models import StepRoute

# A web order that arrived with something to check (unknown SKU, no e-mail) stops at the stock
# check for the order desk, who can amend the lines (allowed until allocation) or reject it.
REVIEW_ROLE = "order_desk"
# An explicit quote's task (the answer it waits for) goes to the account's rep, else to sales.
QUOTE_ROLE = "sales"


@dataclass(frozen=True)
class Route:
    """The rule that routed the order, its rule-set version, every step's route, drop-ship."""

    rule: str
    version: str
    steps: list[StepRoute]
    drop_ship: bool  # some lines are shipped by their supplier (purchase orders)
    services: bool = False  # some lines are services: invoiced once the service is delivered
    service_only: bool = False  # every line is a service: no goods steps


def route(*, session: Session, order: SalesOrder, rules: RuleSet) -> Route:
    """Decide the order's route with `rules`, record rule and version on it and in its trail.

    The trail entry is written once; the order keeps its rule, so a repeat finds the same route.
    """
    drop_ship = bool(purchasing_service.drop_ship_lines(session=session, order_id=order.id or 0))
    facts = facts_for(
        session=session,
        channel=order.channel,
        customer_id=order.customer_id,
        lines=[
            (line.sku, line.qty)
            for line in order_service.lines(session=session, order_id=order.id or 0)
        ],
        total=order.total,
        drop_ship=drop_ship,
    )
    decision = rules.decide(facts)
    order.rule, order.rules_version = decision.rule, decision.version
    session.add(order)
    order_service.add_event(
        session=session,
        key=f"{order.number}:routed",
        order=order,
        kind="routed",
        message=f"routed by rule {decision.rule} (rules {decision.version})",
    )
    steps = list(decision.steps)
    if order.needs_review:
        steps = [_review(s) if s.step == "stock_check" else s for s in steps]
    if order.explicit_quote:
        steps = _with_quote_task(steps)
    lines = order_services.composition(session=session, order_id=order.id or 0)
    return Route(
        rule=decision.rule,
        version=decision.version,
        steps=steps,
        drop_ship=drop_ship,
        services=lines.services,
        service_only=lines.service_only,
    )


def _with_quote_task(steps: list[StepRoute]) -> list[StepRoute]:
    """The steps with the quote as a task: an explicit quote waits for the customer's answer
    whatever the rule said (the rule's own quote task, if it has one, stays as it is)."""
    if any(s.step == "quote" and s.mode == "task" for s in steps):
        return steps
    task = StepRoute(
        step="quote", mode="task", role=QUOTE_ROLE, assign="owner", fallback="round_robin"
    )
    return [task, *(s for s in steps if s.step != "quote")]


def _review(step: StepRoute) -> StepRoute:
    """The stock check as a task for the order desk, whatever the rule said about it."""
    return StepRoute(step=step.step, mode="task", role=REVIEW_ROLE, assign="round_robin")
