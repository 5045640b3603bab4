"""The SalesOrder workflow's state, carried across continue-as-new, and small pure helpers."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from conveyor.order.enums import OrderStatus, Step
    from workflows.types import (
        CancelRequest,
        CompleteTaskRequest,
        OrderPlan,
        PlannedStep,
        SalesOrderInput,
        TrailEntry,
    )

# The steps repeated for every shipment of a partially fulfilled order.
SHIPMENT_STEPS = (Step.STOCK_CHECK, Step.ALLOCATION, Step.PICKING, Step.PACKING, Step.INVOICING)
# v11: the steps an order of service lines only skips (it has no goods to stock or ship).
GOODS_STEPS = (Step.STOCK_CHECK, Step.ALLOCATION, Step.PICKING, Step.PACKING, Step.DELIVERY)


class Mode(StrEnum):
    """How the routing rules run a step."""

    AUTO = "auto"
    TASK = "task"
    SKIP = "skip"


@dataclass
class OrderState:
    """Everything one order's run knows; the next run starts from it after continue-as-new."""

    number: str
    plan: OrderPlan | None = None
    status: OrderStatus = OrderStatus.OPEN
    step: Step | None = None
    shipment: int = 0  # 0: the order ships in one go; 1, 2, ...: the shipment under way
    done: list[str] = field(default_factory=list)  # step keys (`step_key`) finished
    working_on: str | None = None  # the step key whose task is done and whose work runs
    finished: bool = False
    cancel: CancelRequest | None = None
    # tasks
    pending_task_id: int | None = None
    outcomes: dict[int, CompleteTaskRequest] = field(default_factory=dict)
    recorded_tasks: list[int] = field(default_factory=list)  # outcomes stored by the activity
    assignment_changes: int = 0
    # signals and updates seen
    stock_signals: int = 0
    payment_signals: int = 0
    supplier_signals: int = 0
    delivery_signals: int = 0
    service_signals: int = 0
    amendments: int = 0
    # goods and money
    stock_committed: bool = False
    packed_any: bool = False
    units_to_allocate: int = 0
    credit_checked: bool = False
    purchase_orders: list[str] = field(default_factory=list)
    failed_handled: list[int] = field(default_factory=list)  # failed shipments followed up
    late_chased: list[int] = field(default_factory=list)  # late shipments given to the desk
    invoiced_at: datetime | None = None
    # v11: service lines (labour, fees): invoiced once the service is confirmed delivered
    services: bool = False
    service_only: bool = False
    reminders_sent: int = 0
    # quote
    quote_sent_at: datetime | None = None
    quote_answered: bool = False
    # the trail: entries decided but not yet written (they ride along with the next activity)
    trail_seq: int = 0
    trail: list[TrailEntry] = field(default_factory=list)
    runs: int = 1  # this run's number: 2 after the first continue-as-new

    def next_key(self) -> str:
        """A fresh trail key: the order number and the next number of its trail counter."""
        self.trail_seq += 1
        return f"{self.number}:trail:{self.trail_seq}"

    def route(self, step: Step) -> PlannedStep:
        """The plan's route for `step`: automatic when the plan does not name it, but delivery
        skipped (plans made before the delivery step had none)."""
        assert self.plan is not None
        for planned in self.plan.steps:
            if planned.step == step:
                return planned
        return PlannedStep(step=step, mode=Mode.SKIP if step == Step.DELIVERY else Mode.AUTO)

    def step_key(self, step: Step) -> str:
        """A step's key: per shipment for the shipment steps of a partial order."""
        return f"{step}:s{self.shipment}" if self.shipment and step in SHIPMENT_STEPS else step

    def task_suffix(self) -> str:
        """The task key's suffix: the first shipment's task is the step's, later ones numbered."""
        return "task" if self.shipment <= 1 else f"task:s{self.shipment}"

    def more_to_ship(self) -> bool:
        """A partial order with units still to allocate goes on with its next shipment."""
        assert self.plan is not None
        return self.plan.partial and self.units_to_allocate > 0

    def last_shipment(self) -> bool:
        return self.units_to_allocate == 0


@dataclass
class SalesOrderRunInput(SalesOrderInput):
    """The workflow's input: as the flows start it, plus the state a continued run carries."""

    state: OrderState | None = None


def display_time(moment: datetime) -> str:
    """A moment as people read it in mails and the trail."""
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def next_reminder_in(state: OrderState, schedule: list[float], now: datetime) -> float | None:
    """Seconds until the next payment reminder is due (0: now); None when none is left."""
    if state.invoiced_at is None or state.reminders_sent >= len(schedule):
        return None
    since_invoice = (now - state.invoiced_at).total_seconds()
    return max(schedule[state.reminders_sent] - since_invoice, 0.0)


def quote_reminder_at(sent_at: datetime, validity: float, lead: float) -> datetime:
    """When to remind of a quote: `lead` before it expires; a shorter quote half-way through."""
    wait = validity - lead if lead < validity else validity / 2
    return sent_at + timedelta(seconds=wait)
