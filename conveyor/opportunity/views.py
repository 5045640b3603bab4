"""Opportunity endpoints: create, list, read, edit, move through the stages, mark lost, and the
pipeline per stage and owner."""

from typing import Annotated

from fastapi import APIRouter, Query, status

from api.deps import Principal, ReadSessionDep, SessionDep, StateDep, require
from conveyor.audit.models import Source
from conveyor.auth.permissions import Permission
from conveyor.core.state import in_session
from conveyor.opportunity import flows as opportunity_flows
from conveyor.opportunity import read as opportunity_read
from conveyor.opportunity import service as opportunity_service
from conveyor.opportunity.models import (
    LostReason,
    MarkLost,
    OpportunitiesPublic,
    OpportunityCreate,
    OpportunityPublic,
    OpportunityUpdate,
    Pipeline,
    Stage,
    StageMove,
)

router = APIRouter()
Viewer = Annotated[Principal, require(Permission.OPPORTUNITIES_VIEW)]
Manager = Annotated[Principal, require(Permission.OPPORTUNITIES_MANAGE)]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=OpportunityPublic)
def create_opportunity(
    opportunity_in: OpportunityCreate,
    session: SessionDep,
    state: StateDep,
    principal: Manager,
) -> OpportunityPublic:
    """Record a deal for a customer (owner: `owner_id`, else the caller); 422 for an unknown
    customer or owner, or a closed stage. Its quotes are orders placed with
    `opportunity: <number>` (and `quote: true`)."""
    opportunity = opportunity_service.create(
        session=session,
        opportunity_in=opportunity_in,
        default_currency=state.settings.default_currency,
        actor=principal.actor(Source.API),
        account_rep_id=principal.own_accounts_only(),
    )
    return opportunity_read.public(session, opportunity)


@router.get("", response_model=OpportunitiesPublic)
def list_opportunities(
    session: ReadSessionDep,
    principal: Viewer,
    stage: Stage | None = None,
    owner_id: Annotated[int | None, Query(gt=0, le=2**31 - 1)] = None,
    customer_id: Annotated[int | None, Query(gt=0, le=2**31 - 1)] = None,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> OpportunitiesPublic:
    """Deals, newest first; filters: stage, owner, customer (a rep below clearance 3: the
    customers they own)."""
    query = opportunity_service.search(
        stage=stage,
        owner_id=owner_id,
        customer=str(customer_id) if customer_id else None,
        account_rep_id=principal.own_accounts_only(),
    )
    rows, count = opportunity_service.page_of(
        session, query, limit=page_size, offset=(page - 1) * page_size
    )
    return OpportunitiesPublic(
        data=[opportunity_read.summary(o, c, e) for o, c, e in rows], count=count
    )


@router.get("/pipeline", response_model=Pipeline)
def read_pipeline(
    session: ReadSessionDep,
    state: StateDep,
    principal: Viewer,
    owner_id: Annotated[int | None, Query(gt=0, le=2**31 - 1)] = None,
) -> Pipeline:
    """Per stage: how many deals, their value and weighted value (value × probability); open
    deals per owner; lost deals per reason. `owner_id` narrows it to one owner."""
    return opportunity_service.pipeline(
        session=session,
        owner_id=owner_id,
        account_rep_id=principal.own_accounts_only(),
        default_currency=state.settings.default_currency,
    )


@router.get("/lost-reasons", response_model=list[str])
def lost_reasons(principal: Viewer) -> list[str]:
    """The reasons a deal may be marked lost with."""
    return [reason.value for reason in LostReason]


@router.get("/{number}", response_model=OpportunityPublic)
def read_opportunity(number: str, session: ReadSessionDep, principal: Viewer) -> OpportunityPublic:
    """One deal with its quotes and stage history (404 for another rep's customer's)."""
    opportunity = opportunity_service.load(
        session, number, account_rep_id=principal.own_accounts_only()
    )
    return opportunity_read.public(session, opportunity)


@router.patch("/{number}", response_model=OpportunityPublic)
def update_opportunity(
    number: str, changes: OpportunityUpdate, session: SessionDep, principal: Manager
) -> OpportunityPublic:
    """Change title, value, probability, expected close or owner; 409 once the deal is closed."""
    opportunity = opportunity_service.load(
        session, number, account_rep_id=principal.own_accounts_only()
    )
    opportunity_service.update(
        session=session,
        opportunity=opportunity,
        changes=changes,
        actor=principal.actor(Source.API),
    )
    return opportunity_read.public(session, opportunity)


@router.post("/{number}/stage", response_model=OpportunityPublic)
def move_opportunity(
    number: str, move: StageMove, session: SessionDep, principal: Manager
) -> OpportunityPublic:
    """Move the deal to another open stage (its probability: the stage's default unless given),
    or close it as `won`; recorded in its history. 409 once closed; `lost` goes to /lost."""
    opportunity = opportunity_service.load(
        session, number, account_rep_id=principal.own_accounts_only()
    )
    opportunity_service.move(
        session=session,
        opportunity=opportunity,
        stage=move.stage,
        probability=move.probability,
        note=move.note,
        actor=principal.actor(Source.API),
    )
    return opportunity_read.public(session, opportunity)


@router.post("/{number}/lost", response_model=OpportunityPublic)
async def mark_lost(
    number: str, lost: MarkLost, state: StateDep, principal: Manager
) -> OpportunityPublic:
    """Close the deal as lost with a reason; its open quotes are cancelled through their
    workflows (as a cancel by hand). 409 once closed."""
    await opportunity_flows.lose(
        state,
        number=number,
        reason=lost.reason,
        note=lost.note,
        actor=principal.actor(Source.API),
        account_rep_id=principal.own_accounts_only(),
    )
    return await in_session(
        state,
        lambda session: opportunity_read.public(session, opportunity_service.load(session, number)),
        read_only=True,
    )
