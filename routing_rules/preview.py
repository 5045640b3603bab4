"""Preview of an order's route: the facts the rules would see and the decision they make."""

from decimal import Decimal

from pydantic import BaseModel, Field

from conveyor.order.enums import Channel
from routing_rules.loader import RuleSet
from routing_rules.models import Decision, OrderFacts


class PreviewLine(BaseModel):
    sku: str = Field(min_length=1, max_length=64)
    qty: int = Field(gt=0, le=100_000)


class PreviewRequest(BaseModel):
    """An order as it would be placed, or the facts directly (`customer_group`, `total`...)."""

    channel: Channel = Channel.SALES_REP
    customer_id: int | None = Field(default=None, gt=0)
    lines: list[PreviewLine] = Field(default_factory=list, max_length=500)
    customer_group: str | None = None
    country: str | None = None
    total: Decimal | None = Field(default=None, ge=0)
    currency: str | None = None
    tags: list[str] | None = None
    has_drop_ship: bool = False

    @property
    def order_lines(self) -> list[tuple[str, int]]:
        """The lines as (SKU, quantity) pairs, as `conveyor.order.routing.facts_for` takes them."""
        return [(line.sku, line.qty) for line in self.lines]


class PreviewResponse(BaseModel):
    facts: OrderFacts
    decision: Decision


def preview(request: PreviewRequest, facts: OrderFacts, rule_set: RuleSet) -> PreviewResponse:
    """The order's `facts` with the facts the request gives directly, and the rules' decision."""
    overrides = {
        "customer_group": request.customer_group,
        "country": request.country,
        "currency": request.currency,
        "tags": frozenset(request.tags) if request.tags is not None else None,
    }
    facts = facts.model_copy(
        update={k: v for k, v in overrides.items() if v is not None}
        | {"has_drop_ship": request.has_drop_ship}
    )
    return PreviewResponse(facts=facts, decision=rule_set.decide(facts))
