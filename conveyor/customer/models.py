"""Customer table and API shapes."""

from datetime import datetime
from decimal import Decimal

from pydantic import EmailStr
from sqlmodel import Field, SQLModel

from conveyor.core.models import money_field, timestamp_field


class CustomerBase(SQLModel):
    name: str = Field(min_length=1, max_length=200)
    email: str = Field(max_length=320, unique=True, index=True)
    group: str = Field(default="retail", max_length=50)
    country: str = Field(default="US", max_length=2)
    credit_limit: Decimal = Field(default=Decimal("0.00"), ge=0, decimal_places=2, max_digits=14)


class CustomerCreate(SQLModel):
    name: str = Field(min_length=1, max_length=200)
    account_rep_id: int | None = Field(default=None, gt=0)
    email: EmailStr
    group: str = Field(default="retail", min_length=1, max_length=50)
    country: str = Field(default="US", min_length=2, max_length=2)
    credit_limit: Decimal = Field(default=Decimal("0.00"), ge=0, decimal_places=2, max_digits=14)


class Customer(CustomerBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    account_rep_id: int | None = Field(default=None, foreign_key="employee.id")
    credit_limit: Decimal = money_field()
    # Customer-center sign-in: a salted PBKDF2 hash; None means no customer-center account.
    password_hash: str | None = Field(default=None, max_length=200)
    # The store whose webhook created the customer (None: created by staff). Store orders land
    # on an existing customer by e-mail only when that store created it or `email_verified`.
    created_by_store: str | None = Field(default=None, max_length=40)
    email_verified: bool = False
    created_at: datetime = timestamp_field()


class CustomerPublic(CustomerBase):
    id: int
    account_rep_id: int | None
    created_by_store: str | None = None
    email_verified: bool = False
    created_at: datetime
