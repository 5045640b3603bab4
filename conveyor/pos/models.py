"""Cash drawer sessions, their cash movements and counter sales, plus API shapes."""

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import StringConstraints
from sqlmodel import Field, SQLModel

from conveyor.core.models import money_field, timestamp_field
from conveyor.returns.models import ReturnLineCreate


class DrawerStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Tender(StrEnum):
    CASH = "cash"
    CARD = "card"


class MovementKind(StrEnum):
    SALE = "sale"  # cash taken for a counter sale
    REFUND = "refund"  # cash paid out for a counter return


class CashDrawer(SQLModel, table=True):
    """One employee's cash drawer session: opened with a float, closed with a count."""

    __tablename__ = "cashdrawer"

    id: int | None = Field(default=None, primary_key=True)
    employee_id: int = Field(foreign_key="employee.id", index=True)
    # The employee's id while the session is open, None once closed: unique, so an employee
    # holds one open session at most (two opens at once: the second is refused).
    open_for: int | None = Field(default=None, unique=True)
    status: str = Field(default=DrawerStatus.OPEN, max_length=8, index=True)
    currency: str = Field(default="USD", max_length=3)
    opening_float: Decimal = money_field()
    # The float plus cash sales minus cash refunds: what the drawer should hold.
    expected: Decimal = money_field()
    counted: Decimal | None = money_field(default=None)
    difference: Decimal | None = money_field(default=None)  # counted - expected (short < 0)
    opened_by: str = Field(max_length=200)
    closed_by: str | None = Field(default=None, max_length=200)
    note: str = Field(default="", max_length=500)
    opened_at: datetime = timestamp_field()
    closed_at: datetime | None = timestamp_field(nullable=True, default_now=False)


class CashMovement(SQLModel, table=True):
    """Cash in (a sale) or out (a refund) of a drawer session, once per key."""

    __tablename__ = "cashmovement"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, unique=True)
    drawer_id: int = Field(foreign_key="cashdrawer.id", index=True)
    kind: str = Field(max_length=16)
    amount: Decimal = money_field()  # signed: a refund is negative
    order_number: str | None = Field(default=None, max_length=32, index=True)
    reference: str | None = Field(default=None, max_length=64)  # the RMA of a refund
    actor: str = Field(max_length=200)
    at: datetime = timestamp_field()


class CounterSale(SQLModel, table=True):
    """How a counter sale was paid: tender, what the customer handed over, the change."""

    __tablename__ = "countersale"

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="salesorder.id", unique=True)
    order_number: str = Field(max_length=32, unique=True)
    drawer_id: int | None = Field(default=None, foreign_key="cashdrawer.id", index=True)
    tender: str = Field(max_length=8)
    amount: Decimal = money_field()
    tendered: Decimal = money_field()
    change: Decimal = money_field()
    reference: str | None = Field(default=None, max_length=200)  # the card terminal's slip
    sold_by: str = Field(max_length=200)
    sold_at: datetime = timestamp_field()


Money = Annotated[Decimal, Field(ge=0, decimal_places=2, max_digits=14)]


class DrawerOpen(SQLModel):
    opening_float: Money = Decimal("0.00")
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "USD"


class DrawerClose(SQLModel):
    counted: Money
    note: str = Field(default="", max_length=500)


class DrawerPublic(SQLModel):
    id: int
    employee_id: int
    status: str
    currency: str
    opening_float: Decimal
    expected: Decimal
    counted: Decimal | None
    difference: Decimal | None
    cash_sales: Decimal
    cash_refunds: Decimal
    opened_by: str
    closed_by: str | None
    note: str
    opened_at: datetime
    closed_at: datetime | None


class DrawersPublic(SQLModel):
    data: list[DrawerPublic]
    count: int


class SaleLine(SQLModel):
    sku: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
    qty: int = Field(default=1, gt=0, le=10_000)


class SaleCreate(SQLModel):
    """A counter sale: the lines, who buys (the walk-in customer when not given), how paid."""

    lines: list[SaleLine] = Field(min_length=1, max_length=200)
    customer_id: int | None = Field(default=None, gt=0)
    tender: Tender = Tender.CASH
    # Cash: what the customer handed over (the total when not given); the change is the rest.
    tendered: Money | None = None
    reference: str | None = Field(default=None, max_length=200)


class SalePublic(SQLModel):
    order_number: str
    status: str
    customer_id: int
    currency: str
    total: Decimal
    tender: str
    tendered: Decimal
    change: Decimal
    paid: Decimal
    drawer_id: int | None
    receipt_url: str


class CounterReturn(SQLModel):
    """Goods brought back to the counter (all restocked); the refund in cash from the drawer
    when the sale was paid in cash."""

    lines: list[ReturnLineCreate] = Field(min_length=1, max_length=200)
    reason: str = Field(default="", max_length=500)


class CounterReturnPublic(SQLModel):
    return_number: str
    order_number: str
    status: str
    credit_total: Decimal
    refund_total: Decimal
    paid_out: Decimal  # cash taken from the drawer for it
    drawer_id: int | None
