"""Opportunities as the API answers them: a summary row, and the deal with its quotes and
stage history."""

from sqlmodel import Session

from conveyor.customer.models import Customer
from conveyor.employee.models import Employee
from conveyor.opportunity import service as opportunity_service
from conveyor.opportunity.models import (
    Opportunity,
    OpportunityPublic,
    OpportunityQuote,
    OpportunitySummary,
    StageChangePublic,
)

SUMMARY_FIELDS = [
    name
    for name in OpportunitySummary.model_fields
    if name not in ("customer_name", "owner_name", "weighted_value", "number")
]


def summary(
    opportunity: Opportunity, customer: Customer | None, owner: Employee | None
) -> OpportunitySummary:
    """One row of a list."""
    return OpportunitySummary(
        **{name: getattr(opportunity, name) for name in SUMMARY_FIELDS},
        number=opportunity.number or "",
        customer_name=customer.name if customer else "",
        owner_name=owner.name if owner else None,
        weighted_value=opportunity_service.weighted(opportunity),
    )


def public(session: Session, opportunity: Opportunity) -> OpportunityPublic:
    """The deal with its quotes (oldest first) and its stage history."""
    customer = session.get(Customer, opportunity.customer_id)
    owner = session.get(Employee, opportunity.owner_id) if opportunity.owner_id else None
    row = summary(opportunity, customer, owner)
    return OpportunityPublic(
        **row.model_dump(),
        close_note=opportunity.close_note,
        created_by=opportunity.created_by,
        quotes=[
            OpportunityQuote(
                number=order.number or "",
                status=order.status,
                current_step=order.current_step,
                total=order.total,
                currency=order.currency,
                created_at=order.created_at,
            )
            for order in opportunity_service.quotes(session=session, opportunity=opportunity)
        ],
        history=[
            StageChangePublic.model_validate(change)
            for change in opportunity_service.history(session=session, opportunity=opportunity)
        ],
    )
