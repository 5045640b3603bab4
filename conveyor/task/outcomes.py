"""Which outcomes a person may give an order's task at each step, and what a rejection needs.

A rejection cancels the order, so it is offered only where deciding against the order is the
task's point (the quote, a stock decision, the order review) and needs the clearance a cancel
needs. Picking, packing, invoicing and collection tasks are work to be done: their one outcome
is `done`; an order that must stop there is cancelled from its page by someone cleared to.
"""

from conveyor.core.errors import Forbidden, Invalid
from conveyor.order.enums import Step
from conveyor.order.policy import MODIFY_CLEARANCE, MODIFYING_ORDERS
from conveyor.purchasing.invoice_models import INVOICE_MATCH_STEP

DONE, APPROVED, REJECTED = "done", "approved", "rejected"
# The outcomes per step, the usual one first (what the inbox preselects).
DECISION_OUTCOMES: tuple[str, ...] = (APPROVED, DONE, REJECTED)
STEP_OUTCOMES: dict[str, tuple[str, ...]] = {
    Step.QUOTE: DECISION_OUTCOMES,
    Step.STOCK_CHECK: (DONE, REJECTED),
    Step.ALLOCATION: DECISION_OUTCOMES,
    # Not an order's: a supplier invoice the match held, approved (posted) or rejected.
    INVOICE_MATCH_STEP: (APPROVED, REJECTED),
}
WORK_OUTCOMES: tuple[str, ...] = (DONE,)
# What each outcome does to the order, as the inbox explains it beside the choice.
MEANING = {
    DONE: "done: the order goes on",
    APPROVED: "approved: the order goes on",
    REJECTED: "rejected: the order is cancelled and the customer told",
}


def label(step: str) -> str:
    """The step as people read it: `stock check`."""
    return step.replace("_", " ")


def for_step(step: str) -> tuple[str, ...]:
    """The outcomes a task of this step may be completed with."""
    return STEP_OUTCOMES.get(step, WORK_OUTCOMES)


def check(step: str, outcome: str, *, note: str | None, cleared: bool) -> None:
    """Invalid when the step has no such outcome or a rejection gives no reason (`note`);
    Forbidden when the outcome cancels the order and the caller lacks the clearance a cancel
    needs (`cleared`)."""
    allowed = for_step(step)
    if outcome not in allowed:
        raise Invalid(f"a {label(step)} task is completed as {' or '.join(allowed)}, not {outcome}")
    if outcome == REJECTED and not (note or "").strip():
        raise Invalid("rejecting cancels the order: give the reason in the note")
    if outcome == REJECTED and not cleared:
        raise Forbidden(
            f"rejecting cancels the order: {MODIFYING_ORDERS} needs clearance {MODIFY_CLEARANCE}"
        )
