"""Sales order, order line and order event (processing trail) tables, plus API shapes."""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import StringConstraints
from sqlalchemy import Column, Index, Numeric, UniqueConstraint
from sqlmodel import Field, SQLModel

from conveyor.core.models import money_field, timestamp_field
from conveyor.customer.models import Country, Line, Postcode, ShortLine
from conveyor.inventory.models import WarehouseCode
from conveyor.invoice.models import PaymentPublic
from conveyor.order.enums import Channel, OrderStatus, Step


class SalesOrder(SQLModel, table=True):
    __tablename__ = "salesorder"
    __table_args__ = (
        UniqueConstraint("channel", "external_ref", name="uq_order_external_ref"),
        # Migration 0032: lists by status newest first, the monitor's counts, report periods.
        Index("ix_salesorder_status_step", "status", "current_step"),
        Index("ix_salesorder_status_id", "status", "id"),
        Index(
            "ix_salesorder_created_at",
            "created_at",
            postgresql_include=["currency", "status", "total"],
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    number: str | None = Field(default=None, max_length=32, unique=True, index=True)
    channel: str = Field(max_length=32, index=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    external_ref: str | None = Field(default=None, max_length=128, index=True)
    status: str = Field(default=OrderStatus.OPEN, max_length=16, index=True)
    current_step: str | None = Field(default=None, max_length=16, index=True)
    currency: str = Field(default="USD", max_length=3)
    subtotal: Decimal = money_field()
    total: Decimal = money_field()
    # Pricing (pricing/engine.py): total = subtotal + charges (+ tax unless prices include it).
    discount_total: Decimal = money_field()
    charges_total: Decimal = money_field()
    tax_total: Decimal = money_field()
    prices_include_tax: bool = False
    ship_to_country: str | None = Field(default=None, max_length=2)
    prepaid: bool = False
    # Set when a web order arrived with something a person must check (unknown SKU, no e-mail).
    needs_review: bool = Field(default=False, index=True)
    # Quotes for the same opportunity: accepting one voids the others.
    opportunity: str | None = Field(default=None, max_length=64, index=True)
    # Ship what is in stock now and backorder the rest (several shipments and invoices).
    allow_partial: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})
    # Commit stock from this warehouse first (then the others by code); None: the default one.
    warehouse: str | None = Field(default=None, max_length=16)
    # Order entry (issue 13): the customer's purchase order number, the day they want the goods,
    # and where they go (a snapshot: editing the customer's address book later changes nothing).
    customer_po: str | None = Field(default=None, max_length=64, index=True)
    requested_delivery_date: date | None = None
    ship_to_name: str | None = Field(default=None, max_length=200)
    ship_to_line1: str | None = Field(default=None, max_length=200)
    ship_to_line2: str | None = Field(default=None, max_length=200)
    ship_to_city: str | None = Field(default=None, max_length=100)
    ship_to_region: str | None = Field(default=None, max_length=100)
    ship_to_postcode: str | None = Field(default=None, max_length=20)
    # An explicit quote: the quote step is a task whatever the rules say, valid to the end of
    # `quote_valid_until` (UTC). A revision is a new order; the one it replaces is superseded.
    explicit_quote: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})
    quote_valid_until: date | None = None
    quote_version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    revises: str | None = Field(default=None, max_length=32)
    superseded_by: str | None = Field(default=None, max_length=32)
    # The client's Idempotency-Key, scoped (core.idempotency): a repeated submit is one order.
    request_key: str | None = Field(default=None, max_length=200, unique=True, index=True)
    workflow_started: bool = Field(default=False, index=True)
    rule: str | None = Field(default=None, max_length=100)
    rules_version: str | None = Field(default=None, max_length=64)
    created_by: str | None = Field(default=None, max_length=200)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
    completed_at: datetime | None = timestamp_field(nullable=True, default_now=False)


class OrderLine(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="salesorder.id", index=True)
    sku: str = Field(max_length=64)
    name: str = Field(default="", max_length=200)
    qty: int
    unit_price: Decimal = money_field()
    line_total: Decimal = money_field()
    list_price: Decimal = money_field()
    discount_amount: Decimal = money_field()
    price_rule: str = Field(default="list price", max_length=200)
    tax_class: str = Field(default="standard", max_length=32)
    tax_rate: Decimal = Field(default=Decimal("0"), sa_column=Column(Numeric(9, 4), nullable=False))
    tax_amount: Decimal = money_field()
    # An ordered option (a printer with the laptop) points at the line it belongs to.
    parent_line_id: int | None = Field(default=None, foreign_key="orderline.id")
    # Where the line ships from, decided when the order is placed: its supplier (a purchase
    # order) or stock (allocated, picked and packed).
    drop_ship: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})


class OrderCharge(SQLModel, table=True):
    """A shipping or special charge on an order, with its tax."""

    __tablename__ = "ordercharge"

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="salesorder.id", index=True)
    kind: str = Field(max_length=16)  # shipping | special
    description: str = Field(default="", max_length=200)
    amount: Decimal = money_field()
    tax_class: str = Field(default="standard", max_length=32)
    tax_rate: Decimal = Field(default=Decimal("0"), sa_column=Column(Numeric(9, 4), nullable=False))
    tax_amount: Decimal = money_field()


class OrderEvent(SQLModel, table=True):
    """One entry of the processing trail: what happened, when, by whom."""

    # Migration 0032: the reports' step durations read the events of a kind over a period.
    __table_args__ = (Index("ix_orderevent_kind_at", "kind", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, unique=True)
    order_id: int = Field(foreign_key="salesorder.id", index=True)
    step: str | None = Field(default=None, max_length=16)
    kind: str = Field(max_length=32)
    message: str = Field(default="", max_length=2000)
    actor: str = Field(default="system", max_length=200)
    at: datetime = timestamp_field()
    # On a step_completed entry: seconds since its step started (migration 0037), which the
    # reports' step durations rank without pairing the events on every view.
    seconds: float | None = Field(default=None)


class OrderOptionCreate(SQLModel):
    """An option of the product ordered with it; `qty` defaults to the main line's."""

    sku: str = Field(min_length=1, max_length=64)
    qty: int | None = Field(default=None, gt=0, le=100_000)


class OrderLineCreate(SQLModel):
    sku: str = Field(min_length=1, max_length=64)
    qty: int = Field(gt=0, le=100_000)
    options: list[OrderOptionCreate] = Field(default_factory=list, max_length=20)
    # Ask the supplier to ship the line (a drop-ship allowable product); unset: stock when it
    # covers the line, else the supplier.
    drop_ship: bool = False


class OrderChargeCreate(SQLModel):
    kind: Literal["shipping", "special"] = "special"
    description: str = Field(default="", max_length=200)
    amount: Decimal = Field(ge=0, decimal_places=2, max_digits=14)
    tax_class: str = Field(default="standard", min_length=1, max_length=32)


# The customer's own order number as they wrote it: one line, trimmed.
PoReference = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class ShipTo(SQLModel):
    """A delivery address given with the order (stored on it as a snapshot)."""

    name: Line
    line1: Line
    line2: Line | None = None
    city: ShortLine
    region: ShortLine | None = None
    postcode: Postcode | None = None
    country: Country


class OrderCreate(SQLModel):
    customer_id: int = Field(gt=0)
    channel: Channel = Channel.SALES_REP
    lines: list[OrderLineCreate] = Field(min_length=1, max_length=500)
    external_ref: str | None = Field(default=None, min_length=1, max_length=128)
    prepaid: bool = False
    opportunity: str | None = Field(default=None, min_length=1, max_length=64)
    allow_partial: bool = False
    # Ship from this warehouse first (then the others by code); the default warehouse if unset.
    warehouse: WarehouseCode | None = None
    # Destination for taxes and shipping; the customer's country when not given.
    ship_to_country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = None
    prices_include_tax: bool = False
    # A "shipping" charge here replaces the automatic shipping rate.
    charges: list[OrderChargeCreate] = Field(default_factory=list, max_length=20)
    customer_po: PoReference | None = None
    requested_delivery_date: date | None = None
    # Where it goes: an address given here, or one of the customer's shipping addresses (copied).
    ship_to: ShipTo | None = None
    ship_to_address_id: int | None = Field(default=None, gt=0)
    # An explicit quote, whatever the routing rules say, valid to the end of that day (UTC;
    # the settings' quote validity from today when not given).
    quote: bool = False
    quote_valid_until: date | None = None


class QuoteRevision(SQLModel):
    """A new version of an open quote: its lines (re-priced), and what else changes.

    Unset fields keep the quote's values; without `charges`, its special charges are kept and
    shipping is worked out again.
    """

    lines: list[OrderLineCreate] = Field(min_length=1, max_length=500)
    charges: list[OrderChargeCreate] | None = Field(default=None, max_length=20)
    quote_valid_until: date | None = None
    customer_po: PoReference | None = None
    requested_delivery_date: date | None = None


class OrderAmend(SQLModel):
    lines: list[OrderLineCreate] = Field(min_length=1, max_length=500)


class ServiceConfirmation(SQLModel):
    """Staff confirm an order's service lines delivered (labour done, fee due)."""

    note: str = Field(default="", max_length=500)


class OrderLinePublic(SQLModel):
    id: int
    parent_line_id: int | None = None  # set on an option's line
    sku: str
    name: str
    qty: int
    unit_price: Decimal
    line_total: Decimal
    list_price: Decimal
    discount_amount: Decimal
    price_rule: str
    tax_rate: Decimal
    tax_amount: Decimal
    drop_ship: bool = False  # shipped by a supplier, not from stock


class OrderChargePublic(SQLModel):
    kind: str
    description: str
    amount: Decimal
    tax_rate: Decimal
    tax_amount: Decimal


class OrderTotals(SQLModel):
    currency: str
    subtotal: Decimal
    discount: Decimal = Decimal("0.00")
    charges: Decimal = Decimal("0.00")
    tax: Decimal = Decimal("0.00")
    tax_included: bool = False
    total: Decimal
    invoiced: Decimal
    paid: Decimal
    credited: Decimal = Decimal("0.00")
    # What the customer still owes: invoiced - credited - paid; below zero, a credit in their
    # favour (an overpayment).
    balance: Decimal = Decimal("0.00")


class OrderEventPublic(SQLModel):
    at: datetime
    step: str | None
    kind: str
    message: str
    actor: str


class OrderTaskPublic(SQLModel):
    id: int
    step: str
    role: str
    status: str
    assignee_id: int | None
    outcome: str | None


class OrderSummary(SQLModel):
    number: str
    status: OrderStatus
    current_step: Step | None
    channel: str
    customer_id: int
    external_ref: str | None
    currency: str
    total: Decimal
    needs_review: bool = False
    opportunity: str | None = None
    allow_partial: bool = False
    warehouse: str | None = None
    customer_po: str | None = None
    requested_delivery_date: date | None = None
    explicit_quote: bool = False
    quote_valid_until: date | None = None
    quote_version: int = 1
    revises: str | None = None  # the quote this one is a new version of
    superseded_by: str | None = None  # the newer version that replaced this quote
    created_at: datetime


class ShipToPublic(SQLModel):
    name: str | None
    line1: str | None
    line2: str | None
    city: str | None
    region: str | None
    postcode: str | None
    country: str | None


class OrderPublic(OrderSummary):
    rule: str | None
    rules_version: str | None
    ship_to: ShipToPublic | None = None
    lines: list[OrderLinePublic]
    charges: list[OrderChargePublic] = []
    totals: OrderTotals
    # Every payment (amount, method, reference, who, when); refunds are negative.
    payments: list[PaymentPublic] = []
    tasks: list[OrderTaskPublic]
    events: list[OrderEventPublic]


class OrdersPublic(SQLModel):
    data: list[OrderSummary]
    count: int  # how many match; when `count_exact` is false, at least this many
    page: int
    page_size: int
    count_exact: bool = True
    next_cursor: str | None = None  # `cursor=` for the next page; None on the last page
