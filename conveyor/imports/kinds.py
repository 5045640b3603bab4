"""What can be imported: per kind its columns, how a row becomes the API's input, and the
service that writes it (the same services the JSON API calls)."""

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import StringConstraints
from sqlmodel import Session

from conveyor.audit.service import Actor
from conveyor.customer import service as customer_service
from conveyor.customer.models import CustomerCreate
from conveyor.inventory import service as inventory_service
from conveyor.inventory.models import SKU_PATTERN, ProductCreate, StockReceive
from conveyor.pricing import service as pricing_service
from conveyor.pricing.models import PriceAgreementCreate


@dataclass(frozen=True)
class Context:
    """Who imports, and what the writers need from the settings and the file."""

    actor: Actor
    default_warehouse: str
    file_key: str  # a digest of the file: re-importing it receives no stock twice


class RowError(Exception):
    """A row refers to something that is not there (an unknown SKU, customer, warehouse)."""

    def __init__(self, column: str, message: str) -> None:
        super().__init__(message)
        self.column = column
        self.message = message


@dataclass(frozen=True)
class Kind:
    """One kind of import."""

    name: str
    label: str
    columns: tuple[str, ...]
    required: tuple[str, ...]
    prepare: Callable[[Session, dict[str, str]], Any]  # cells -> validated input
    duplicate_key: Callable[[Any], Hashable]  # two rows with one key: the second is a duplicate
    write: Callable[[Session, Any, Context], object]


def _known_sku(session: Session, sku: str | None) -> None:
    if sku and inventory_service.get_by_sku(session=session, sku=sku) is None:
        raise RowError("sku", f"unknown SKU {sku}")


# ---- customers --------------------------------------------------------------------------------


def _customer(session: Session, cells: dict[str, str]) -> CustomerCreate:
    customer = CustomerCreate.model_validate(cells)
    if customer_service.get_by_email(session=session, email=customer.email):
        raise RowError("email", f"duplicate: a customer with e-mail {customer.email} exists")
    return customer


def _write_customer(session: Session, customer: CustomerCreate, ctx: Context) -> object:
    return customer_service.create(session=session, customer_in=customer, actor=ctx.actor)


CUSTOMERS = Kind(
    name="customers",
    label="Customers",
    columns=("name", "email", "group", "country", "credit_limit", "payment_terms_days"),
    required=("name", "email"),
    prepare=_customer,
    duplicate_key=lambda c: c.email.lower(),
    write=_write_customer,
)


# ---- products ---------------------------------------------------------------------------------


def _product(session: Session, cells: dict[str, str]) -> ProductCreate:
    fields: dict[str, Any] = dict(cells)
    if "tags" in fields:
        fields["tags"] = [tag.strip() for tag in fields["tags"].split(";") if tag.strip()]
    product = ProductCreate.model_validate(fields)
    if inventory_service.get_by_sku(session=session, sku=product.sku):
        raise RowError("sku", f"duplicate: a product with SKU {product.sku} exists")
    return product


def _write_product(session: Session, product: ProductCreate, ctx: Context) -> object:
    return inventory_service.create(
        session=session,
        product_in=product,
        default_warehouse=ctx.default_warehouse,
        actor=ctx.actor,
    )


PRODUCTS = Kind(
    name="products",
    label="Products",
    columns=(
        "sku",
        "name",
        "price",
        "currency",
        "location",
        "tags",
        "item_group",
        "tax_class",
        "drop_ship",
        "drop_ship_allowed",  # yes: each order line from stock or from a supplier
        "supplier_email",
        "kind",  # goods (blank) or service
    ),
    required=("sku", "price"),
    prepare=_product,
    duplicate_key=lambda p: p.sku,
    write=_write_product,
)


# ---- prices (price agreements) ----------------------------------------------------------------


def _agreement(session: Session, cells: dict[str, str]) -> PriceAgreementCreate:
    fields: dict[str, Any] = dict(cells)
    email = fields.pop("customer_email", None)
    if email:
        customer = customer_service.get_by_email(session=session, email=email)
        if customer is None:
            raise RowError("customer_email", f"unknown customer {email}")
        fields["customer_id"] = customer.id
    agreement = PriceAgreementCreate.model_validate(fields)
    _known_sku(session, agreement.sku)
    return agreement


def _agreement_key(a: PriceAgreementCreate) -> Hashable:
    return (a.name, a.sku, a.item_group, a.customer_id, a.customer_group, a.min_qty, a.valid_from)


def _write_agreement(session: Session, agreement: PriceAgreementCreate, ctx: Context) -> object:
    return pricing_service.create_agreement(
        session=session, agreement_in=agreement, actor=ctx.actor
    )


PRICES = Kind(
    name="prices",
    label="Prices (price agreements)",
    columns=(
        "name",
        "sku",
        "item_group",
        "customer_email",
        "customer_group",
        "min_qty",
        "unit_price",
        "discount_percent",
        "discount_amount",
        "currency",
        "priority",
        "valid_from",
        "valid_to",
    ),
    required=("name",),
    prepare=_agreement,
    duplicate_key=_agreement_key,
    write=_write_agreement,
)


# ---- opening stock ----------------------------------------------------------------------------


class OpeningStock(StockReceive):
    sku: Annotated[str, StringConstraints(pattern=SKU_PATTERN, max_length=64)]


def _stock(session: Session, cells: dict[str, str]) -> OpeningStock:
    row = OpeningStock.model_validate(cells)
    _known_sku(session, row.sku)
    if row.warehouse:
        try:
            inventory_service.usable_warehouse(session=session, code=row.warehouse)
        except inventory_service.UnknownWarehouseError as exc:
            raise RowError("warehouse", str(exc)) from exc
    return row


def _write_stock(session: Session, row: OpeningStock, ctx: Context) -> object:
    warehouse = row.warehouse or ctx.default_warehouse
    return inventory_service.receive(
        session=session,
        key=f"import:{ctx.file_key}:{row.sku}@{warehouse}",
        sku=row.sku,
        qty=row.qty,
        warehouse=row.warehouse,
        location=row.location,
        note=row.reference or "opening stock (CSV import)",
        default_warehouse=ctx.default_warehouse,
        actor=ctx.actor,
    )


STOCK = Kind(
    name="stock",
    label="Opening stock",
    columns=("sku", "warehouse", "location", "qty", "reference"),
    required=("sku", "qty"),
    prepare=_stock,
    duplicate_key=lambda row: (row.sku, row.warehouse),
    write=_write_stock,
)

KINDS: dict[str, Kind] = {kind.name: kind for kind in (CUSTOMERS, PRODUCTS, PRICES, STOCK)}
