"""The opportunity service on a session: a quote accepted twice wins its deal once, a quote of
another customer carrying the number wins nothing, and the pipeline keeps currencies apart."""

import uuid
from decimal import Decimal

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from conveyor.audit.models import AuditEntry
from conveyor.audit.service import Actor
from conveyor.core.db import session_scope
from conveyor.customer import service as customer_service
from conveyor.customer.models import Customer, CustomerCreate
from conveyor.opportunity import service as opportunity_service
from conveyor.opportunity.models import LostReason, Opportunity, OpportunityCreate, Stage
from conveyor.order.enums import OrderStatus
from conveyor.order.models import SalesOrder

ACTOR = Actor.cli("test")


def _customer(session: Session) -> Customer:
    email = f"c-{uuid.uuid4().hex[:8]}@example.com"
    created = CustomerCreate(name="Service Buyer", email=email)
    return customer_service.create(session=session, customer_in=created, actor=ACTOR)


def _deal(session: Session, customer: Customer, value: str, **extra: object) -> Opportunity:
    opportunity_in = OpportunityCreate.model_validate(
        {"customer_id": customer.id, "title": "Deal", "value": value, **extra}
    )
    return opportunity_service.create(
        session=session, opportunity_in=opportunity_in, default_currency="USD", actor=ACTOR
    )


def _quote(session: Session, customer: Customer, opportunity: str) -> SalesOrder:
    """A bare quote row (its workflow plays no part in what the service decides)."""
    order = SalesOrder(
        number=f"Q-{uuid.uuid4().hex[:8]}",
        channel="sales_rep",
        customer_id=customer.id or 0,
        status=OrderStatus.OPEN,
        opportunity=opportunity,
    )
    session.add(order)
    session.flush()
    return order


def test_a_quote_accepted_twice_wins_its_deal_once(engine: Engine) -> None:
    with session_scope(engine) as session:
        customer, stranger = _customer(session), _customer(session)
        deal = _deal(session, customer, "500.00", stage="negotiation")
        number = deal.number or ""
        foreign = _quote(session, stranger, number)
        assert (
            opportunity_service.quote_accepted(session=session, order=foreign, actor=ACTOR) is None
        )
        assert deal.stage == Stage.NEGOTIATION
        accepted = _quote(session, customer, number)
        for _ in range(2):  # a retried activity
            won = opportunity_service.quote_accepted(session=session, order=accepted, actor=ACTOR)
            assert won is not None and won.won_order == accepted.number
        history = opportunity_service.history(session=session, opportunity=deal)
        assert [(h.from_stage, h.to_stage) for h in history] == [
            (None, "negotiation"),
            ("negotiation", "won"),
        ]
        actions = session.exec(
            select(AuditEntry.action)
            .where(AuditEntry.entity_id == number)
            .order_by(col(AuditEntry.id))
        ).all()
        assert list(actions) == ["opportunity.create", "opportunity.won"]


def test_the_pipeline_keeps_currencies_apart_and_counts_lost_reasons(engine: Engine) -> None:
    with session_scope(engine) as session:
        customer = _customer(session)
        _deal(session, customer, "100.00", stage="proposal")
        _deal(session, customer, "200.00", stage="proposal", currency="EUR", probability=33)
        lost = _deal(session, customer, "300.00")
        opportunity_service.lose(
            session=session, opportunity=lost, reason=LostReason.TIMING, actor=ACTOR
        )
        found = opportunity_service.pipeline(session=session, default_currency="USD")
    proposal = {r.currency: r for r in found.stages if r.stage == "proposal"}
    assert (proposal["USD"].total, proposal["USD"].weighted) == (
        Decimal("100.00"),
        Decimal("50.00"),
    )
    # 200.00 x 33 % = 66.00
    assert (proposal["EUR"].count, proposal["EUR"].weighted) == (1, Decimal("66.00"))
    assert len(found.stages) == 2 * len(Stage)
    assert found.lost_reasons["timing"] == 1 and found.lost_reasons["price"] == 0
    assert {(r.currency, r.count) for r in found.owners} == {("USD", 1), ("EUR", 1)}
