"""Routing-rule endpoints: the rules in force and a preview of an order's route."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, status
from pydantic import BaseModel, Field

from api.deps import Principal, ReadSessionDep, StateDep, require
from conveyor.auth.permissions import Permission
from conveyor.order.routing import facts_for
from routing_rules import preview as route_preview
from routing_rules.models import RuleFileError
from routing_rules.preview import PreviewRequest, PreviewResponse
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


@router.get("", response_model=RulesInForce)
def rules_in_force(
    rules: RulesDep, _: Annotated[Principal, require(Permission.RULES_VIEW)]
) -> RulesInForce:
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
    request: PreviewRequest,
    rules: RulesDep,
    session: ReadSessionDep,
    _: Annotated[Principal, require(Permission.RULES_VIEW)],
) -> PreviewResponse:
    """Which rule and step plan this order would get, without placing it."""
    facts = facts_for(
        session=session,
        channel=request.channel,
        customer_id=request.customer_id,
        lines=request.order_lines,
        total=request.total,
    )
    return route_preview.preview(request, facts, rules.current())
