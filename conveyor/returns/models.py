"""Return authorisation tables (RMA and its lines), plus API shapes."""

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import StringConstraints
from sqlmodel import Field, SQLModel

from conveyor.core.models import money_field, timestamp_field


class ReturnStatus(StrEnum):
    AUTHORISED = "authorised"  # the customer may send the goods back
    RECEIVING = "receiving"  # goods arrived; restock, credit note and refund are under way
    # Restocked; the credit note (and refund) is above the approval amount: an accountant decides.
    PENDING_APPROVAL = "pending_approval"
    RECEIVED = "received"  # restocked or scrapped, credited and (if paid) refunded
    REJECTED = "rejected"  # restocked or scrapped; the accountant refused credit note and refund


class Disposition(StrEnum):
    RESTOCK = "restock"  # back on the shelf: on-hand rises
    SCRAP = "scrap"  # written off: a ledger entry of its own, on-hand unchanged


class ReturnAuthorisation(SQLModel, table=True):
    """A return authorisation (RMA) for goods shipped on one order."""

    __tablename__ = "returnauthorisation"

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=32, unique=True)
    # The client's Idempotency-Key (or a fresh one): the same request never creates two RMAs.
    key: str = Field(max_length=200, unique=True)
    order_id: int = Field(foreign_key="salesorder.id", index=True)
    order_number: str = Field(max_length=32, index=True)
    status: str = Field(default=ReturnStatus.AUTHORISED, max_length=16, index=True)
    reason: str = Field(default="", max_length=500)
    created_by: str = Field(default="system", max_length=200)
    received_by: str | None = Field(default=None, max_length=200)
    currency: str = Field(max_length=3)
    credit_total: Decimal = money_field()
    refund_total: Decimal = money_field()
    created_at: datetime = timestamp_field()
    received_at: datetime | None = timestamp_field(nullable=True, default_now=False)


class ReturnLine(SQLModel, table=True):
    """One SKU of a return: how many were authorised, and how many came back restocked/scrapped."""

    __tablename__ = "returnline"

    id: int | None = Field(default=None, primary_key=True)
    return_id: int = Field(foreign_key="returnauthorisation.id", index=True)
    sku: str = Field(max_length=64)
    qty: int
    restock_qty: int = 0
    scrap_qty: int = 0


Sku = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class ReturnLineCreate(SQLModel):
    sku: Sku
    qty: int = Field(gt=0, le=1_000_000)


class ReturnCreate(SQLModel):
    lines: list[ReturnLineCreate] = Field(min_length=1, max_length=200)
    reason: str = Field(default="", max_length=500)


class ReceiveLine(SQLModel):
    sku: Sku
    qty: int = Field(gt=0, le=1_000_000)
    disposition: Disposition = Disposition.RESTOCK


class ReturnReceive(SQLModel):
    """What arrived; no lines means everything authorised came back and is restocked."""

    lines: list[ReceiveLine] = Field(default_factory=list, max_length=400)


class ReturnLinePublic(SQLModel):
    sku: str
    qty: int
    restock_qty: int
    scrap_qty: int


class ReturnCreditNote(SQLModel):
    number: str
    invoice_number: str
    subtotal: Decimal
    tax: Decimal
    total: Decimal
    issued_at: datetime


class ReturnPublic(SQLModel):
    number: str
    order_number: str
    status: str
    reason: str
    created_by: str
    received_by: str | None
    currency: str
    credit_total: Decimal
    refund_total: Decimal
    created_at: datetime
    received_at: datetime | None
    lines: list[ReturnLinePublic]
    credit_notes: list[ReturnCreditNote]
    # The accountant's approval task of a credit note above the approval amount, if it needed one.
    approval_task_id: int | None = None


class ReturnsPublic(SQLModel):
    data: list[ReturnPublic]
    count: int
