"""Dataclasses that cross the Temporal boundary: workflow input/handlers and activity I/O.

Each is one dataclass so fields can be added later (with defaults) without breaking running orders.
"""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal


class SalesOrderNames:
    """The names Temporal knows the order workflows and their handlers by.

    New orders start as `WORKFLOW` (workflows/sales_order.py, v8); orders started before run on
    as `LEGACY_WORKFLOW` (workflows/v7, whose names are its class and method names) until they
    drain. Both have the same handlers under the same names, so the flows signal, update and
    query an order by these names whichever type it runs on, without importing a workflow
    module; tests/workflows/test_names.py checks they match.
    """

    WORKFLOW = "SalesOrder"
    LEGACY_WORKFLOW = "SalesOrderWorkflow"
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
    SHIPMENT_DELIVERED = "shipment_delivered"
    SERVICE_DELIVERED = "service_delivered"  # SalesOrder only (v11): no v7 order has services
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
    # v8 (SalesOrder): continue-as-new at a long wait once a run's history is this long.
    max_history_events: int = 1000


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
    services: bool = False  # v11: some lines are services, invoiced once delivered
    service_only: bool = False  # v11: every line is a service: no goods steps


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
    notify: bool = True  # False: the assignee took it themselves and needs no "new task" mail


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
    services: bool = False  # the new lines hold services (as OrderPlan.services)
    service_only: bool = False


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
    status: str  # sent | skipped | already_sent | queued (left to the outbox dispatcher)
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


@dataclass
class ShipmentDelivered:
    """Signal: one of the order's shipments was delivered (or failed: `status`)."""

    shipment: int
    status: str = "delivered"


# ---- SalesOrder (v8): the activities of the rebuilt order workflow ------------------------------


@dataclass
class TrailEntry:
    """A trail line the workflow decided on (step started, completed, skipped, task completed).

    It rides along with the order's next activity, which writes it before its own effect and in
    the same transaction; the key (order number + the workflow's trail counter) makes it once-only.
    """

    key: str
    kind: str
    message: str = ""
    step: str | None = None
    status: str | None = None  # the order status it moves to
    current_step: str | None = None
    clear_step: bool = False
    actor: str = "system"
    at: datetime | None = None  # when the workflow decided it (None: when written)


@dataclass
class OrderStepInput:
    """A step activity's input: the order, the call's key, the trail to write first, shipment.

    `key` comes from the workflow's trail counter; the entries the activity writes itself are
    keyed `<key>:<kind>`, so a retry writes each of them once.
    """

    order_number: str
    key: str
    trail: list[TrailEntry] = field(default_factory=list)
    shipment: int = 0  # 0: the order ships in one go; 1, 2, ...: one of its shipments


@dataclass
class PackStepInput(OrderStepInput):
    delivered_at_once: bool = False  # the delivery step is skipped: handed over on the spot


@dataclass
class DeliveryStepInput(OrderStepInput):
    handled: list[int] = field(default_factory=list)  # failed shipments followed up
    deliver_all: bool = False  # the own-fleet delivery task is done: all in transit delivered
    sla_seconds: float | None = None  # `delivery: {mode: auto, sla: ...}`: late after this


@dataclass
class ServiceStepInput(OrderStepInput):
    confirm: bool = False  # the service step's task is done: that confirms the service
    actor: str = "system"  # who completed that task


@dataclass
class ServiceStatus:
    delivered: bool  # the service lines are confirmed delivered
    by: str | None = None


@dataclass
class DeliveryRef:
    order_number: str
    handled: list[int] = field(default_factory=list)


@dataclass
class DeliveryStatus:
    settled: bool  # every shipment delivered, or failed and followed up
    failed: list[int] = field(default_factory=list)  # numbers of the failed shipments
    # With a delivery SLA: the shipments in transit for longer (late), and the seconds until
    # the next one in transit is late (None: none is on its way within the SLA).
    late: list[int] = field(default_factory=list)
    late_in_seconds: float | None = None


@dataclass
class BeginOrderInput(OrderStepInput):
    quote_valid_until: str = ""  # as the quote mail shows it, when the plan makes it a quote


@dataclass
class BeginOrderResult:
    plan: OrderPlan
    quote_first: bool = False  # the quote step is a task: the order waits as a quote


@dataclass
class StockStepResult:
    """Can the step go on with what is in stock; the order's status after the check."""

    ready: bool
    status: str
    shortages: list[str] = field(default_factory=list)


@dataclass
class ShipmentRef:
    order_number: str
    shipment: int = 0


@dataclass
class AllocateStepInput(OrderStepInput):
    order_from_suppliers: bool = False  # send the drop-ship purchase orders once committed


@dataclass
class AllocateStepResult:
    committed: bool  # False: nothing could be committed, the order waits for stock
    status: str
    remaining: int = 0  # units still to allocate in later shipments
    shortages: list[str] = field(default_factory=list)
    purchase_orders: list[str] = field(default_factory=list)


@dataclass
class InvoiceStepInput(OrderStepInput):
    last: bool = True  # the final shipment: it bills the drop-ship lines and the remainders
    wait_for_suppliers: bool = False  # invoice only once every purchase order has shipped


@dataclass
class InvoiceStepResult:
    invoiced: bool  # False: a supplier has not shipped yet
    number: str = ""
    total: Decimal = Decimal("0")
    open_purchase_orders: int = 0


@dataclass
class CollectStepInput(OrderStepInput):
    prepaid: bool = False
    # Written after the payment entry once the order is settled: the step and the order done.
    settled_trail: list[TrailEntry] = field(default_factory=list)


@dataclass
class PaymentReminderInput(OrderStepInput):
    reminder: int = 1  # 1, 2, ...: which reminder of the dunning schedule


@dataclass
class OrderTaskInput(OrderStepInput):
    """Create a step's task (once per `task_key`), note it in the trail and mail the assignee."""

    task_key: str = ""
    step: str = ""
    role: str = ""
    assign: str = "pool"
    sla_seconds: float | None = None
    fallback: str = "pool"


@dataclass
class TaskOutcomeInput:
    """A person's outcome for an order's task: stored on the task and noted in the trail."""

    order_number: str
    task_id: int
    outcome: str = "done"
    note: str | None = None
    actor: str = "system"
    step: str | None = None


@dataclass
class EscalateOrderTaskInput(OrderStepInput):
    task_id: int = 0
    action: str = "remind"  # remind | reassign | escalate
    to_role: str | None = None
    step: str | None = None


@dataclass
class TaskMailInput:
    """Mail a task's (new) assignee once per `key`."""

    order_number: str
    key: str
    task_id: int


@dataclass
class QuoteReminderInput:
    order_number: str
    key: str
    valid_until: str


@dataclass
class AmendLinesInput:
    """Replace the order's lines once per `key`; the customer is told under `mail_key`."""

    order_number: str
    key: str
    mail_key: str
    lines: list[AmendLine]
    actor: str = "system"


@dataclass
class CompensateOrderInput(OrderStepInput):
    """Undo what a cancelled order holds and tell the customer."""

    release_stock: bool = False
    cancel_purchase_orders: bool = False
    reason: str = ""
    actor: str = "system"
