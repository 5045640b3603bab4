"""What crosses the Temporal boundary for returns: workflow name and id, input and activity I/O."""

from dataclasses import dataclass, field
from decimal import Decimal

# The name Temporal knows ReturnWorkflow by (its class name): the flows start it by this name.
RETURN_WORKFLOW = "ReturnWorkflow"
# Update: the accountant's decision on a credit note above the approval amount.
DECIDE_REFUND = "decide_refund"
# The patch that added the approval step (histories recorded before it replay without it).
REFUND_APPROVAL_PATCH = "refund-approval"
# The `type` of the update validator's refusals (callers match it, never the message).
NOT_WAITING_FOR_DECISION = "NotWaitingForDecision"
ALREADY_DECIDED = "AlreadyDecided"
APPROVED, REJECTED = "approved", "rejected"


def return_workflow_id(order_number: str, return_number: str) -> str:
    """The workflow id of a received return: `return-<order>-<rma>` (unique across databases)."""
    return f"return-{order_number}-{return_number}"


@dataclass
class ReturnInput:
    return_number: str
    order_number: str
    activity_timeout_seconds: float = 30.0


@dataclass
class ReturnRef:
    return_number: str


@dataclass
class RestockResult:
    restocked: int = 0
    scrapped: int = 0
    # Backordered orders that wait for a restocked SKU: the workflow wakes them.
    waiting_orders: list[str] = field(default_factory=list)


@dataclass
class CreditResult:
    credit_notes: list[str] = field(default_factory=list)
    total: Decimal = Decimal("0.00")


@dataclass
class RefundResult:
    amount: Decimal = Decimal("0.00")


@dataclass
class ReturnResult:
    return_number: str
    status: str
    credit_notes: list[str] = field(default_factory=list)
    credit_total: Decimal = Decimal("0.00")
    refund: Decimal = Decimal("0.00")
    currency: str = ""
    goods: list[str] = field(default_factory=list)  # "2 x SKU-1 restocked", ...


@dataclass
class ApprovalCheck:
    """Whether the credit waits for an accountant: the task to wait for, None when it does not."""

    task_id: int | None = None
    credit_due: Decimal = Decimal("0.00")


@dataclass
class RefundDecision:
    """The accountant's outcome (`approved` or `rejected`) for the return's approval task."""

    task_id: int
    outcome: str
    note: str | None = None
    actor: str = "system"
    employee_id: int | None = None
    source: str = "api"


@dataclass
class DecideReturnInput:
    return_number: str
    decision: RefundDecision


@dataclass
class RefundDecided:
    task_id: int
    outcome: str
