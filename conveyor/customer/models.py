"""Customer, its addresses and contacts: tables and API shapes."""

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BeforeValidator, EmailStr, StringConstraints
from sqlmodel import Column, Field, SQLModel

from conveyor.core.models import UTCDateTime, money_field, timestamp_field

# Free text from outside: trimmed, one line, bounded.
Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
ShortLine = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Country = Annotated[
    str,
    BeforeValidator(lambda value: value.strip().upper() if isinstance(value, str) else value),
    StringConstraints(pattern=r"^[A-Z]{2}$"),
]
Postcode = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9 -]{0,19}$")
]
Phone = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9][0-9 ()./-]{2,39}$")
]


class CustomerBase(SQLModel):
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(max_length=320, unique=True, index=True)
    group: str = Field(default="retail", max_length=50)
    country: str = Field(default="US", max_length=2)
    credit_limit: Decimal = Field(default=Decimal("0.00"), ge=0, decimal_places=2, max_digits=14)
    # Payment terms: an invoice is due this many days after it is issued (`payment_due`).
    payment_terms_days: int = Field(
        default=30, ge=0, le=365, sa_column_kwargs={"server_default": "30"}
    )
    # The customer's payment terms template (conveyor/terms); None: `payment_terms_days` net.
    payment_terms_code: str | None = Field(default=None, max_length=16)


class CustomerCreate(SQLModel):
    name: str = Field(min_length=1, max_length=200)
    account_rep_id: int | None = Field(default=None, gt=0)
    email: EmailStr
    group: str = Field(default="retail", min_length=1, max_length=50)
    country: str = Field(default="US", min_length=2, max_length=2)
    credit_limit: Decimal = Field(default=Decimal("0.00"), ge=0, decimal_places=2, max_digits=14)
    payment_terms_days: int = Field(default=30, ge=0, le=365)
    # A terms template's code; its net days then replace `payment_terms_days`.
    payment_terms_code: str | None = Field(default=None, min_length=1, max_length=16)


class CustomerUpdate(SQLModel):
    """Only the fields given change; `account_rep_id: null` leaves the account without a rep."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    email: EmailStr | None = None
    group: str | None = Field(default=None, min_length=1, max_length=50)
    country: Country | None = None
    credit_limit: Decimal | None = Field(default=None, ge=0, decimal_places=2, max_digits=14)
    payment_terms_days: int | None = Field(default=None, ge=0, le=365)
    # `null` leaves the customer without a template (net `payment_terms_days`).
    payment_terms_code: str | None = Field(default=None, max_length=16)
    account_rep_id: int | None = Field(default=None, gt=0)


class Customer(CustomerBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    account_rep_id: int | None = Field(default=None, foreign_key="employee.id")
    payment_terms_code: str | None = Field(
        default=None, max_length=16, foreign_key="paymentterms.code"
    )
    credit_limit: Decimal = money_field()
    # Customer-center sign-in: a salted PBKDF2 hash; None means no customer-center account.
    password_hash: str | None = Field(default=None, max_length=200)
    # The store whose webhook created the customer (None: created by staff). Store orders land
    # on an existing customer by e-mail only when that store created it or `email_verified`.
    created_by_store: str | None = Field(default=None, max_length=40)
    email_verified: bool = False
    created_at: datetime = timestamp_field()
    # Retired customers stay for the history that names them but place no new orders.
    retired_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )


class CustomerPublic(CustomerBase):
    id: int
    account_rep_id: int | None
    created_by_store: str | None = None
    email_verified: bool = False
    created_at: datetime
    retired_at: datetime | None = None


class AddressKind(StrEnum):
    """What an address is used for."""

    BILLING = "billing"
    SHIPPING = "shipping"


class CustomerAddressBase(SQLModel):
    kind: str = Field(max_length=16)
    name: str = Field(max_length=200)  # who or what the parcel or invoice is addressed to
    line1: str = Field(max_length=200)
    line2: str | None = Field(default=None, max_length=200)
    city: str = Field(max_length=100)
    region: str | None = Field(default=None, max_length=100)
    postcode: str | None = Field(default=None, max_length=20)
    country: str = Field(max_length=2)
    is_default: bool = False


class CustomerAddressCreate(SQLModel):
    kind: AddressKind
    name: Line
    line1: Line
    line2: Line | None = None
    city: ShortLine
    region: ShortLine | None = None
    postcode: Postcode | None = None
    country: Country
    # The first address of a kind becomes the default whatever this says.
    is_default: bool = False


class CustomerAddressUpdate(SQLModel):
    """Only the fields given change; `kind` is fixed once created."""

    name: Line | None = None
    line1: Line | None = None
    line2: Line | None = None
    city: ShortLine | None = None
    region: ShortLine | None = None
    postcode: Postcode | None = None
    country: Country | None = None
    is_default: bool | None = None


class CustomerAddress(CustomerAddressBase, table=True):
    """A billing or shipping address; retired (never deleted) because orders may name it."""

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    retired_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    created_at: datetime = timestamp_field()


class CustomerAddressPublic(CustomerAddressBase):
    id: int
    customer_id: int
    retired_at: datetime | None
    created_at: datetime


class CustomerContactBase(SQLModel):
    name: str = Field(max_length=200)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=40)
    role: str | None = Field(default=None, max_length=100)  # "purchasing", "accounts payable"


class CustomerContactCreate(SQLModel):
    name: Line
    email: EmailStr | None = None
    phone: Phone | None = None
    role: ShortLine | None = None


class CustomerContactUpdate(SQLModel):
    """Only the fields given change."""

    name: Line | None = None
    email: EmailStr | None = None
    phone: Phone | None = None
    role: ShortLine | None = None


class CustomerContact(CustomerContactBase, table=True):
    """A person at the customer to talk to; retired, not deleted."""

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    retired_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    created_at: datetime = timestamp_field()


class CustomerContactPublic(CustomerContactBase):
    id: int
    customer_id: int
    retired_at: datetime | None
    created_at: datetime
