"""Opportunity flows: a lost deal is recorded first, then its open quotes are cancelled through
their workflows (the order flows' cancel, the same path as cancelling a quote by hand)."""

import logging
from dataclasses import dataclass, field

from sqlmodel import Session

from conveyor.audit.service import Actor
from conveyor.core.errors import DomainError
from conveyor.core.state import AppState, in_session
from conveyor.opportunity import service as opportunity_service
from conveyor.opportunity.models import LostReason, Opportunity
from conveyor.order import flows as order_flows

log = logging.getLogger(__name__)


@dataclass
class LostResult:
    """The lost deal, the quotes cancelled with it, and those that could not be (and why)."""

    opportunity: Opportunity
    cancelled: list[str] = field(default_factory=list)
    not_cancelled: dict[str, str] = field(default_factory=dict)


async def lose(
    state: AppState,
    *,
    number: str,
    reason: LostReason,
    note: str,
    actor: Actor,
    account_rep_id: int | None = None,
) -> LostResult:
    """Mark the deal lost (committed, audited), then cancel each of its open quotes.

    A quote its customer accepted meanwhile refuses the cancel (its workflow is past the quote);
    that is reported in `not_cancelled`, and the acceptance marks the deal won after all.
    NotFound, Conflict when the deal is closed already.
    """

    def record(session: Session) -> tuple[Opportunity, list[str]]:
        opportunity = opportunity_service.load(session, number, account_rep_id=account_rep_id)
        open_quotes = opportunity_service.lose(
            session=session, opportunity=opportunity, reason=reason, note=note, actor=actor
        )
        return opportunity, open_quotes

    opportunity, open_quotes = await in_session(state, record)
    result = LostResult(opportunity)
    why = f"opportunity {number} lost: {reason.value}" + (f" ({note})" if note else "")
    for quote in open_quotes:
        try:
            await order_flows.cancel(state, number=quote, reason=why, actor=actor.name)
        except DomainError as exc:
            log.info("quote %s of lost opportunity %s not cancelled: %s", quote, number, exc)
            result.not_cancelled[quote] = exc.message
            continue
        result.cancelled.append(quote)
    return result
