"""Dataclasses that cross the Temporal boundary: workflow input/handlers and activity I/O.

Each is one dataclass so fields can be added later (with defaults) without breaking running orders.
"""

from dataclasses import dataclass, field
from decimal import Decimal


class SalesOrderNames:
    """The names Temporal knows SalesOrderWorkflow and its handlers by.

    They are the class and method names (the decorators take no `name=`), so recorded histories
    and running orders keep them. The flows start, signal and update by these names instead of
    importing the workflow module; tests/workflows/test_names.py checks they match.
    """

    WORKFLOW = "SalesOrderWorkflow"
    # updates
    COMPLETE_TASK = "complete_task"
    CANCEL = "cancel"
    AMEND = "amend"
    # signals
    STOCK_ARRIVED = "stock_arrived"
    TASK_ASSIGNED = "task_assigned"
    QUOTE_VOIDED = "quote_voided"
    SUPPLIER_SHIPPED = "supplier_shipped"
    PAYMENT_RECORDED = "payment_recorded"
    # queries
    PROGRESS = "progress"


@dataclass
class SalesOrderInput:
    order_number: str
    backorder_recheck_seconds: float = 3600.0
    activity_timeout_seconds: float = 30.0
    quote_validity_seconds: float = 14 * 24 * 3600.0
    quote_reminder_before_seconds: float = 2 * 24 * 3600.0
    # Payment reminders, in seconds after the invoice: 7, 14 and 30 days.
    dunning_schedule_seconds: list[float] = field(
        default_factory=lambda: [7 * 86400.0, 14 * 86400.0, 30 * 86400.0]
    )


@dataclass
class SalesOrderResult:
    order_number: str
    status: str


@dataclass
class PlannedStep:
    step: str
    mode: str  # auto | task | skip
    role: str | None = None
    assign: str = "pool"
    sla_seconds: float | None = None
    fallback: str = "pool"
    remind_after_seconds: float | None = None
    escalate_after_seconds: float | None = None
    escalation_action: str | None = None  # reassign | escalate
    escalation_role: str | None = None


@dataclass
class OrderPlan:
    rule: str
    rules_version: str
    steps: list[PlannedStep]
    prepaid: bool = False
    partial: bool = False  # ship what is in stock, backorder the rest
    drop_ship: bool = False  # some lines are shipped by their supplier (purchase orders)


@dataclass
class OrderRef:
    order_number: str


@dataclass
class KeyedOrderInput:
    """An order plus the idempotency key the workflow made for this call."""

    order_number: str
    key: str


@dataclass
class RecordProgressInput:
    order_number: str
    key: str
    kind: str
    message: str = ""
    step: str | None = None
    status: str | None = None
    current_step: str | None = None
    clear_step: bool = False
    actor: str = "system"


@dataclass
class StockCheckResult:
    available: bool
    shortages: list[str] = field(default_factory=list)
    some_available: bool = False  # part of what is still to allocate could ship now


@dataclass
class AllocateStockResult:
    committed: bool
    shortages: list[str] = field(default_factory=list)


@dataclass
class PickListResult:
    lines: int


@dataclass
class InvoiceResult:
    number: str
    total: Decimal


@dataclass
class PaymentStatus:
    invoiced: Decimal
    paid: Decimal
    credited: Decimal = Decimal("0")  # credit notes (returns) lower what is owed

    @property
    def due(self) -> Decimal:
        """What the customer still owes (below zero: a credit in their favour)."""
        return self.invoiced - self.credited - self.paid

    @property
    def settled(self) -> bool:
        """True when payments and credit notes cover the invoices."""
        return self.invoiced > 0 and self.due <= 0


@dataclass
class CreditCheckResult:
    approved: bool
    credit_limit: Decimal = Decimal("0")
    exposure: Decimal = Decimal("0")  # open receivables + this order
    reason: str = ""


@dataclass
class CreateTaskInput:
    order_number: str
    key: str
    step: str
    role: str
    assign: str = "pool"
    sla_seconds: float | None = None
    fallback: str = "pool"


@dataclass
class TaskRef:
    task_id: int
    assignee_id: int | None = None
    assignee_email: str | None = None


@dataclass
class TaskAssigned:
    """Signal: a task of this order got a (new) assignee outside the workflow (clock-in/out)."""

    task_id: int
    assignee_id: int | None = None
    assignee_email: str | None = None
    reason: str = ""


@dataclass
class EscalateTaskInput:
    task_id: int
    action: str  # remind | reassign | escalate
    to_role: str | None = None


@dataclass
class EscalateTaskResult:
    task_id: int
    action: str
    assignee_id: int | None = None
    assignee_email: str | None = None
    role: str = ""
    message: str = ""


@dataclass
class CompleteTaskRequest:
    task_id: int
    outcome: str = "done"
    note: str | None = None
    actor: str = "system"


@dataclass
class CompleteTaskResult:
    task_id: int
    outcome: str


@dataclass
class CancelRequest:
    reason: str = ""
    actor: str = "system"


@dataclass
class AmendLine:
    sku: str
    qty: int


@dataclass
class AmendRequest:
    lines: list[AmendLine]
    actor: str = "system"


@dataclass
class AmendOrderInput:
    order_number: str
    key: str
    lines: list[AmendLine]
    actor: str = "system"


@dataclass
class AmendResult:
    total: Decimal
    summary: str = ""


@dataclass
class CancelResult:
    status: str


@dataclass
class OrderProgress:
    status: str
    current_step: str | None
    pending_task_id: int | None


@dataclass
class NotifyInput:
    """One e-mail to send; `key` makes it once-only however often the activity is retried."""

    key: str
    kind: str
    order_number: str
    task_id: int | None = None
    to_role: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


@dataclass
class NotifyResult:
    status: str  # sent | skipped | already_sent
    recipients: list[str] = field(default_factory=list)


@dataclass
class SiblingQuotes:
    """Other open quotes of the same opportunity."""

    order_numbers: list[str] = field(default_factory=list)


@dataclass
class QuoteVoided:
    """Signal: another quote of this opportunity was accepted."""

    accepted_order_number: str


@dataclass
class ShipmentInput:
    """One shipment of a partially fulfilled order (1, 2, ...)."""

    order_number: str
    shipment: int
    last: bool = False  # the final shipment (its invoice takes the rounding remainders)


@dataclass
class AllocateShipmentResult:
    lines: int  # SKUs committed to this shipment (0: nothing could be committed)
    remaining: int  # units still to allocate after this shipment
    shortages: list[str] = field(default_factory=list)


@dataclass
class PurchaseOrdersResult:
    """The purchase orders sent to suppliers for an order's drop-ship lines."""

    numbers: list[str] = field(default_factory=list)
    suppliers: list[str] = field(default_factory=list)


@dataclass
class SupplierShipped:
    """Signal: a supplier confirmed shipping a purchase order of this order."""

    purchase_order_number: str
