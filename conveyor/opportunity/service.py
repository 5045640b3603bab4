"""Opportunities: create and edit deals, move them through the stages (each move recorded and
audited), close them as won (an accepted quote) or lost (with a reason), and the pipeline."""

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from sqlmodel import Session, col, select

from conveyor.audit.service import Actor, changed, snapshot
from conveyor.audit.service import record as audit
from conveyor.core.db import contains_text, page
from conveyor.core.errors import Conflict, Invalid, NotFound
from conveyor.core.models import round_money, row_id, utcnow
from conveyor.customer import read as customer_read
from conveyor.customer.models import Customer
from conveyor.employee.models import Employee
from conveyor.opportunity.models import (
    CLOSED_STAGES,
    DEFAULT_PROBABILITY,
    OPEN_STAGES,
    LostReason,
    Opportunity,
    OpportunityCreate,
    OpportunityStageChange,
    OpportunityUpdate,
    Pipeline,
    PipelineOwnerRow,
    PipelineRow,
    Stage,
)
from conveyor.order.enums import OrderStatus
from conveyor.order.models import SalesOrder

NUMBER_PREFIX = "OPP-"
# What the audit entries of a deal show, before and after.
AUDITED = (
    "number",
    "customer_id",
    "title",
    "value",
    "currency",
    "stage",
    "probability",
    "expected_close",
    "owner_id",
    "lost_reason",
    "close_note",
    "won_order",
)
EDITABLE = ("title", "value", "probability", "expected_close", "owner_id")


def weighted(opportunity: Opportunity) -> Decimal:
    """The deal's value times its probability, rounded once to cents."""
    return round_money(opportunity.value * opportunity.probability / 100)


def get_by_number(*, session: Session, number: str) -> Opportunity | None:
    """The deal numbered `number` (OPP-000001), None if there is none."""
    return session.exec(select(Opportunity).where(Opportunity.number == number)).first()


def load(session: Session, number: str, *, account_rep_id: int | None = None) -> Opportunity:
    """The deal; NotFound when there is none, or it is another rep's customer's (record rule)."""
    opportunity = get_by_number(session=session, number=number)
    if opportunity is None or not _visible(session, opportunity, account_rep_id):
        raise NotFound(f"opportunity {number} not found")
    return opportunity


def _visible(session: Session, opportunity: Opportunity, account_rep_id: int | None) -> bool:
    if account_rep_id is None:
        return True
    customer = session.get(Customer, opportunity.customer_id)
    return customer is not None and customer.account_rep_id == account_rep_id


def search(
    *,
    stage: str | None = None,
    owner_id: int | None = None,
    customer: str | None = None,
    title: str | None = None,
    account_rep_id: int | None = None,
) -> Any:
    """(opportunity, customer, owner or None) rows, filtered; `account_rep_id`: only the deals
    of the customers that rep owns (the sales record rule)."""
    query = (
        select(Opportunity, Customer, Employee)
        .join(Customer, col(Customer.id) == col(Opportunity.customer_id))
        .outerjoin(Employee, col(Employee.id) == col(Opportunity.owner_id))
    )
    if account_rep_id is not None:
        query = query.where(col(Customer.account_rep_id) == account_rep_id)
    if stage:
        query = query.where(col(Opportunity.stage) == stage)
    if owner_id is not None:
        query = query.where(col(Opportunity.owner_id) == owner_id)
    if customer:
        query = query.where(customer_read.matches(customer))
    if title:
        query = query.where(contains_text(col(Opportunity.title), title))
    return query


SORTS: dict[str, Any] = {
    "number": col(Opportunity.id),
    "title": col(Opportunity.title),
    "customer": col(Customer.name),
    "stage": col(Opportunity.stage),
    "value": col(Opportunity.value),
    "probability": col(Opportunity.probability),
    "expected_close": col(Opportunity.expected_close),
    "owner": col(Employee.name),
}


def page_of(session: Session, query: Any, *, limit: int, offset: int) -> tuple[list[Any], int]:
    """One page of `search` rows, newest first, and how many match in all."""
    return page(session, query, col(Opportunity.id).desc(), limit=limit, offset=offset)


def _owner(session: Session, owner_id: int | None) -> Employee | None:
    if owner_id is None:
        return None
    owner = session.get(Employee, owner_id)
    if owner is None or not owner.active:
        raise Invalid(f"owner {owner_id}: no active employee has that id")
    return owner


def _record_stage(
    session: Session,
    opportunity: Opportunity,
    from_stage: str | None,
    note: str,
    actor: Actor,
) -> None:
    session.add(
        OpportunityStageChange(
            opportunity_id=row_id(opportunity),
            from_stage=from_stage,
            to_stage=opportunity.stage,
            probability=opportunity.probability,
            note=note,
            actor=actor.name,
        )
    )


def create(
    *,
    session: Session,
    opportunity_in: OpportunityCreate,
    default_currency: str,
    actor: Actor,
    account_rep_id: int | None = None,
) -> Opportunity:
    """Record a new deal (numbered OPP-000001, ...) in an open stage, owned by `owner_id` or by
    the employee creating it; Invalid for an unknown customer or owner, or a closed stage."""
    customer = session.get(Customer, opportunity_in.customer_id)
    if customer is None or (
        account_rep_id is not None and customer.account_rep_id != account_rep_id
    ):
        raise Invalid(f"customer {opportunity_in.customer_id} not found")
    if customer.retired_at is not None:
        raise Invalid(f"customer {customer.id} is retired")
    if opportunity_in.stage not in OPEN_STAGES:
        raise Invalid("a new opportunity starts in an open stage (won and lost close it)")
    owner_id = opportunity_in.owner_id or actor.employee_id
    _owner(session, owner_id)
    stage = Stage(opportunity_in.stage)
    opportunity = Opportunity(
        customer_id=customer.id or 0,
        title=opportunity_in.title,
        value=round_money(opportunity_in.value),
        currency=opportunity_in.currency or default_currency,
        stage=stage,
        probability=(
            DEFAULT_PROBABILITY[stage]
            if opportunity_in.probability is None
            else opportunity_in.probability
        ),
        expected_close=opportunity_in.expected_close,
        owner_id=owner_id,
        created_by=actor.name,
    )
    session.add(opportunity)
    session.flush()
    opportunity.number = f"{NUMBER_PREFIX}{row_id(opportunity):06d}"
    session.add(opportunity)
    _record_stage(session, opportunity, None, "created", actor)
    audit(
        session,
        actor=actor,
        action="opportunity.create",
        entity="opportunity",
        entity_id=opportunity.number,
        after=snapshot(opportunity, AUDITED),
    )
    session.flush()
    return opportunity


def _refuse_closed(opportunity: Opportunity) -> None:
    if opportunity.stage in CLOSED_STAGES:
        raise Conflict(f"opportunity {opportunity.number} is {opportunity.stage}: it is closed")


def update(
    *, session: Session, opportunity: Opportunity, changes: OpportunityUpdate, actor: Actor
) -> Opportunity:
    """Change the fields given (audited with before and after); Conflict once it is closed."""
    _refuse_closed(opportunity)
    given = changes.model_dump(exclude_unset=True)
    if given.get("owner_id") is not None:
        _owner(session, given["owner_id"])
    before = snapshot(opportunity, EDITABLE)
    for name in EDITABLE:
        if name in given and (given[name] is not None or name == "expected_close"):
            value = given[name]
            setattr(opportunity, name, round_money(value) if name == "value" else value)
    old, new = changed(before, snapshot(opportunity, EDITABLE))
    if not new:
        return opportunity
    opportunity.updated_at = utcnow()
    session.add(opportunity)
    audit(
        session,
        actor=actor,
        action="opportunity.update",
        entity="opportunity",
        entity_id=opportunity.number,
        before=old,
        after=new,
    )
    session.flush()
    return opportunity


def _move(
    session: Session,
    opportunity: Opportunity,
    stage: Stage,
    *,
    probability: int | None,
    note: str,
    actor: Actor,
    action: str,
    **closing: Any,
) -> Opportunity:
    """Put the deal in `stage`: the history row and the audit entry, in this transaction."""
    before = snapshot(opportunity, AUDITED)
    from_stage = opportunity.stage
    opportunity.stage = stage
    opportunity.probability = DEFAULT_PROBABILITY[stage] if probability is None else probability
    now = utcnow()
    opportunity.updated_at = now
    if stage in CLOSED_STAGES:
        opportunity.closed_at = now
        opportunity.close_note = note
    for name, value in closing.items():
        setattr(opportunity, name, value)
    session.add(opportunity)
    _record_stage(session, opportunity, from_stage, note, actor)
    old, new = changed(before, snapshot(opportunity, AUDITED))
    audit(
        session,
        actor=actor,
        action=action,
        entity="opportunity",
        entity_id=opportunity.number,
        before=old,
        after=new,
    )
    session.flush()
    return opportunity


def move(
    *,
    session: Session,
    opportunity: Opportunity,
    stage: Stage,
    probability: int | None = None,
    note: str = "",
    actor: Actor,
) -> Opportunity:
    """Move an open deal to another open stage, or close it as won (a deal won outside a quote
    here); losing goes through `lose` (it needs a reason). Conflict once closed or unchanged."""
    _refuse_closed(opportunity)
    if stage == Stage.LOST:
        raise Invalid("marking an opportunity lost needs a reason: use the lost action")
    unchanged = probability is None or probability == opportunity.probability
    if stage == opportunity.stage and unchanged:
        raise Conflict(f"opportunity {opportunity.number} is at {stage} already")
    if stage == Stage.WON and probability not in (None, 100):
        raise Invalid("a won opportunity has probability 100")
    return _move(
        session,
        opportunity,
        stage,
        probability=probability,
        note=note,
        actor=actor,
        action="opportunity.won" if stage == Stage.WON else "opportunity.stage",
    )


def lose(
    *,
    session: Session,
    opportunity: Opportunity,
    reason: LostReason,
    note: str = "",
    actor: Actor,
) -> list[str]:
    """Close the deal as lost with `reason`; returns the numbers of its open quotes, which the
    caller cancels once this is committed (order flows). Conflict once closed."""
    _refuse_closed(opportunity)
    _move(
        session,
        opportunity,
        Stage.LOST,
        probability=0,
        note=note or reason.value,
        actor=actor,
        action="opportunity.lost",
        lost_reason=reason.value,
    )
    return [
        n for order in open_quotes(session=session, opportunity=opportunity) if (n := order.number)
    ]


def quote_accepted(*, session: Session, order: SalesOrder, actor: Actor) -> Opportunity | None:
    """A quote of a deal was accepted: the deal is won by it (once; the workflow voids the
    other quotes, the sibling quotes). None when the quote belongs to no recorded deal."""
    if not order.opportunity:
        return None
    opportunity = get_by_number(session=session, number=order.opportunity)
    if opportunity is None or opportunity.customer_id != order.customer_id:
        return None
    if opportunity.stage == Stage.WON:
        return opportunity  # a retried activity, or a second quote accepted in a race
    return _move(
        session,
        opportunity,
        Stage.WON,
        probability=100,
        note=f"quote {order.number} accepted",
        actor=actor,
        action="opportunity.won",
        won_order=order.number,
        lost_reason=None,
    )


def _quotes_query(opportunity: Opportunity) -> Any:
    # The sibling-quote rule (order_service.sibling_quotes): same opportunity, same customer.
    return (
        select(SalesOrder)
        .where(SalesOrder.opportunity == opportunity.number)
        .where(SalesOrder.customer_id == opportunity.customer_id)
    )


def quotes(*, session: Session, opportunity: Opportunity) -> list[SalesOrder]:
    """Every quote placed for the deal (and the order an accepted one became), oldest first."""
    query = _quotes_query(opportunity).order_by(col(SalesOrder.id))
    return list(session.exec(query))


def open_quotes(*, session: Session, opportunity: Opportunity) -> list[SalesOrder]:
    """The deal's quotes still waiting for the customer's answer."""
    query = _quotes_query(opportunity).where(SalesOrder.status == OrderStatus.QUOTE)
    return [o for o in session.exec(query.order_by(col(SalesOrder.id))) if o.number]


def history(*, session: Session, opportunity: Opportunity) -> list[OpportunityStageChange]:
    """The deal's stage changes, oldest first."""
    query = (
        select(OpportunityStageChange)
        .where(OpportunityStageChange.opportunity_id == row_id(opportunity))
        .order_by(col(OpportunityStageChange.id))
    )
    return list(session.exec(query))


def owners(*, session: Session) -> list[Employee]:
    """The employees who own a deal or may own one (active, sales or supervisor), by name."""
    owning = select(Opportunity.owner_id).where(col(Opportunity.owner_id).is_not(None))
    found = session.exec(select(Employee).order_by(col(Employee.name), col(Employee.id))).all()
    ids = set(session.exec(owning.distinct()).all())
    return [
        e
        for e in found
        if e.id in ids or (e.active and any(r in e.roles for r in ("sales", "supervisor")))
    ]


def pipeline(
    *,
    session: Session,
    owner_id: int | None = None,
    account_rep_id: int | None = None,
    default_currency: str,
) -> Pipeline:
    """Deals per stage (count, value, weighted value; every stage, per currency), open deals
    per owner, and lost deals per reason; filtered by owner and the record rule."""
    rows: Sequence[Any] = session.exec(
        search(owner_id=owner_id, account_rep_id=account_rep_id)
    ).all()
    deals = [(o, e) for o, _, e in rows]
    currencies = sorted({o.currency for o, _ in deals}) or [default_currency]
    stages: dict[tuple[str, str], list[Opportunity]] = defaultdict(list)
    by_owner: dict[tuple[int | None, str], list[Opportunity]] = defaultdict(list)
    names: dict[int | None, str | None] = {None: None}
    lost: dict[str, int] = {reason.value: 0 for reason in LostReason}
    for opportunity, owner in deals:
        stages[(opportunity.stage, opportunity.currency)].append(opportunity)
        if opportunity.stage in OPEN_STAGES:
            by_owner[(opportunity.owner_id, opportunity.currency)].append(opportunity)
            names[opportunity.owner_id] = owner.name if owner else None
        if opportunity.stage == Stage.LOST and opportunity.lost_reason:
            lost[opportunity.lost_reason] = lost.get(opportunity.lost_reason, 0) + 1
    return Pipeline(
        owner_id=owner_id,
        stages=[
            _row(stage, currency, stages[(stage, currency)])
            for stage in Stage
            for currency in currencies
        ],
        owners=[
            PipelineOwnerRow(
                owner_id=key[0],
                owner_name=names.get(key[0]),
                currency=key[1],
                count=len(found),
                total=sum((o.value for o in found), Decimal("0.00")),
                weighted=sum((weighted(o) for o in found), Decimal("0.00")),
            )
            for key, found in sorted(
                by_owner.items(),
                key=lambda item: (names.get(item[0][0]) or "~", item[0][0] or 0, item[0][1]),
            )
        ],
        lost_reasons=lost,
    )


def _row(stage: str, currency: str, found: list[Opportunity]) -> PipelineRow:
    return PipelineRow(
        stage=stage,
        currency=currency,
        count=len(found),
        total=sum((o.value for o in found), Decimal("0.00")),
        weighted=sum((weighted(o) for o in found), Decimal("0.00")),
    )


def closes_before(opportunity: Opportunity, day: date) -> bool:
    """True when an open deal is expected to close before `day` (the page flags it overdue)."""
    return (
        opportunity.stage in OPEN_STAGES
        and opportunity.expected_close is not None
        and opportunity.expected_close < day
    )
