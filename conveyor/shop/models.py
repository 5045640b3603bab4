"""The customer's cart and its lines: kept in the database, so it survives signing out."""

import secrets
from datetime import datetime

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from conveyor.core.models import timestamp_field


def new_checkout_key() -> str:
    """A fresh, unguessable key for the cart's next checkout."""
    return secrets.token_urlsafe(24)


class Cart(SQLModel, table=True):
    """One cart per customer. `checkout_key` changes with every change of the cart (and after
    each checkout): a checkout form carries the key it was shown with, so a double submit places
    one order and a form older than the cart places none."""

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", unique=True)
    checkout_key: str = Field(default_factory=new_checkout_key, max_length=64)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()


class CartLine(SQLModel, table=True):
    """A product in a cart with its quantity and the options chosen with it."""

    __tablename__ = "cartline"
    __table_args__ = (UniqueConstraint("cart_id", "sku", name="uq_cartline_sku"),)

    id: int | None = Field(default=None, primary_key=True)
    cart_id: int = Field(foreign_key="cart.id", index=True)
    sku: str = Field(max_length=64, foreign_key="product.sku")
    qty: int
    options: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    created_at: datetime = timestamp_field()
