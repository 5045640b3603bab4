"""What may be done to an order when: shared by the workflow, the flows and the pages.

Plain constants and pure functions (no I/O), so the workflow sandbox may import them too.
"""

import re

from conveyor.order.enums import Step

# External references in a store's namespace (`shopify:1001`) are the webhooks' alone.
STORE_REFERENCE = re.compile(r"^(shopify|woocommerce|stripe)\s*:", re.IGNORECASE)
# Amending lines is allowed until allocation commits stock (None: not started yet).
AMENDABLE_IN: tuple[Step | None, ...] = (None, Step.QUOTE, Step.STOCK_CHECK)
# Steps from which a cancel is refused: goods are packed or later.
NOT_CANCELLABLE_FROM: tuple[Step, ...] = (
    Step.PACKING,
    Step.INVOICING,
    Step.DELIVERY,
    Step.COLLECTION,
)
# The clearance an employee needs to cancel, amend or annotate an order (admins have all).
MODIFY_CLEARANCE = 2
# How a refusal names that action: "modifying orders needs clearance 2".
MODIFYING_ORDERS = "modifying orders"
# Who records money received for an order (admins too): "recording payments needs the ... role".
PAYMENT_ROLES = ("accountant",)
RECORDING_PAYMENTS = "recording payments"


class Refusal:
    """The `type` of the ApplicationError a workflow update validator refuses with.

    Callers match `ApplicationError.type`, never the message, which is for people.
    """

    NOT_WAITING_FOR_TASK = "NotWaitingForTask"
    TASK_ALREADY_COMPLETED = "TaskAlreadyCompleted"
    ORDER_FINISHED = "OrderFinished"
    NOT_CANCELLABLE = "NotCancellable"
    NOT_AMENDABLE = "NotAmendable"
    INVALID_REQUEST = "InvalidRequest"


def can_cancel(step: str | None, *, packed_any: bool = False) -> bool:
    """True while a cancel is allowed: before packing, and nothing shipped yet."""
    return step not in NOT_CANCELLABLE_FROM and not packed_any


def can_amend(step: str | None, *, stock_committed: bool = False) -> bool:
    """True while the order's lines may be replaced: before allocation commits stock."""
    return step in AMENDABLE_IN and not stock_committed
