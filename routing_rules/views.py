"""Routing-rule endpoints: the rules in force and a preview of an order's route."""

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, Field

from api.deps import CurrentPrincipal, ReadSessionDep, StateDep
from conveyor.order.enums import Channel
from conveyor.order.routing import facts_for
from routing_rules.models import Decision, OrderFacts, RuleFileError
from routing_rules.registry import RuleRegistry

router = APIRouter()


def get_rules(state: StateDep) -> RuleRegistry:
    """The app's rule registry (reloads changed files on use)."""
    return state.rules


RulesDep = Annotated[RuleRegistry, Depends(get_rules)]


class RulesInForce(BaseModel):
    version: str
    directory: str
    files: list[str]
    rules: list[dict[str, Any]]
    last_error: list[str] | None = Field(
        default=None, description="why the files on disk are not in force (the last good set is)"
    )


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


class PreviewResponse(BaseModel):
    facts: OrderFacts
    decision: Decision


@router.get("", response_model=RulesInForce)
def rules_in_force(rules: RulesDep, _: CurrentPrincipal) -> RulesInForce:
    """The rules in force, in match order, with their version."""
    try:
        rule_set = rules.current()
    except RuleFileError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, exc.errors) from exc
    error = rules.last_error
    return RulesInForce(
        version=rule_set.version,
        directory=str(rules.directory),
        files=rule_set.files,
        rules=[rule.model_dump(mode="json") for rule in rule_set.rules],
        last_error=error.errors if error else None,
    )


@router.post("/preview", response_model=PreviewResponse)
def preview(
    request: PreviewRequest, rules: RulesDep, session: ReadSessionDep, _: CurrentPrincipal
) -> PreviewResponse:
    """Which rule and step plan this order would get, without placing it."""
    facts = facts_for(
        session=session,
        channel=request.channel,
        customer_id=request.customer_id,
        lines=[(line.sku, line.qty) for line in request.lines],
        total=request.total,
    )
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
    return PreviewResponse(facts=facts, decision=rules.current().decide(facts))
