"""Purchasing pages: suppliers (list, CSV, form, prices, item group discounts), stock purchase
orders (list, CSV, new from a form, mailed to the supplier, goods received against them)."""

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import uuid4

from fastapi import Path, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session

from api.deps import Principal, ReadSessionDep, SessionDep, StateDep
from conveyor.audit.models import Source
from conveyor.auth.permissions import Permission
from conveyor.core import spreadsheet
from conveyor.core.errors import DomainError, Invalid
from conveyor.core.idempotency import scoped_key
from conveyor.core.models import utcnow
from conveyor.core.patch import describe
from conveyor.inventory import warehouses as warehouse_service
from conveyor.pages.form_page import FormPage, Refusal, Refused, submit
from conveyor.pages.history import record_history
from conveyor.pages.settings_forms import FormField, form_values, to_input
from conveyor.pages.web import (
    CsrfChecked,
    WebSessionDep,
    flash_redirect,
    page_refusal,
    page_router,
    render,
    require_page,
    store_session,
)
from conveyor.purchasing import flows as purchasing_flows
from conveyor.purchasing import group_discounts, receiving, replenishment
from conveyor.purchasing import invoices as invoice_service
from conveyor.purchasing import service as purchasing_service
from conveyor.purchasing import suppliers as supplier_service
from conveyor.purchasing.models import (
    PurchaseOrderKind,
    PurchaseReceiptIn,
    ReceiptLineIn,
    StockPurchaseCreate,
    StockPurchaseLineIn,
    Supplier,
    SupplierCreate,
    SupplierGroupDiscountCreate,
    SupplierPriceCreate,
    SupplierUpdate,
)

router = page_router()
SUPPLIERS = "/purchasing/suppliers"
ORDERS = "/purchasing/orders"
CODE = FormField("code", "Code", max_length=32, hint="A-Z, 0-9, - and _; kept for good")
FIELDS = (
    FormField("name", "Name"),
    FormField("email", "E-mail (purchase orders go here)", max_length=320),
    FormField("contact_name", "Contact"),
    FormField("phone", "Phone", max_length=50),
    FormField("address", "Address", "textarea", max_length=500),
    FormField("payment_terms_days", "Payment terms (days)", "number", max_length=3),
    FormField("currency", "Currency", max_length=3),
    FormField("lead_time_days", "Lead time (days)", "number", max_length=3),
)
PRICE_FIELDS = (
    FormField("sku", "SKU", max_length=64),
    FormField("min_qty", "From quantity", "number", max_length=7),
    FormField("unit_price", "Unit price", "number", max_length=20),
    FormField("discount_percent", "Discount %", "number", max_length=6, nullable=True),
    FormField("valid_from", "Valid from", "date", max_length=10, nullable=True),
    FormField("valid_to", "Valid to", "date", max_length=10, nullable=True),
    FormField("preferred", "Preferred", "checkbox", max_length=3),
)
GROUP_FIELDS = (
    FormField("item_group", "Item group", max_length=50),
    FormField("discount_percent", "Discount %", "number", max_length=6),
    FormField("min_qty", "From quantity", "number", max_length=7),
    FormField("valid_from", "Valid from", "date", max_length=10, nullable=True),
    FormField("valid_to", "Valid to", "date", max_length=10, nullable=True),
)
PO_FIELDS = (
    FormField("supplier", "Supplier", max_length=32),
    FormField("warehouse", "Warehouse", max_length=16, nullable=True),
    FormField("expected_date", "Expected", "date", max_length=10, nullable=True),
    FormField("lines", "Lines", "textarea", max_length=10_000),
)
SUPPLIER_CSV = ("code", "name", "email", "contact_name", "phone", "payment_terms_days", "currency",
                "lead_time_days")  # fmt: skip
ORDER_CSV = ("number", "kind", "supplier", "warehouse", "status", "expected_date", "net_total",
             "currency", "created_at", "sent_at")  # fmt: skip


def _csv(header: tuple[str, ...], rows: list[list[object]], filename: str) -> Response:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    return Response(
        spreadsheet.to_csv(header, rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}-{stamp}.csv"'},
    )


# ---- suppliers --------------------------------------------------------------------------------


def _supplier_prices(session: Session, supplier: Supplier | None) -> dict[str, Any]:
    """The supplier page's prices and group discounts, and the (empty) forms adding them."""
    prices = (
        [
            supplier_service.price_public(p, supplier)
            for p in supplier_service.prices(session=session, supplier_id=supplier.id)
        ]
        if supplier
        else []
    )
    return {
        "price_fields": PRICE_FIELDS,
        "price_values": {"min_qty": "1"},
        "price_errors": {},
        "prices": prices,
        "group_fields": GROUP_FIELDS,
        "group_values": {"min_qty": "1"},
        "group_errors": {},
        "group_discounts": [
            group_discounts.public(d, supplier)
            for d in group_discounts.of_supplier(session=session, supplier_id=supplier.id)
        ]
        if supplier
        else [],
    }


SUPPLIER = FormPage(
    template="purchasing_supplier.html",
    section="purchasing",
    record_name="supplier",
    base=SUPPLIERS,
    key="code",
    entity="supplier",
    fields=FIELDS,
    create_shape=SupplierCreate,
    update_shape=SupplierUpdate,
    manage=Permission.PURCHASING_MANAGE,
    code_field=CODE,
    extra=_supplier_prices,
)


@router.get(SUPPLIERS, include_in_schema=False)
def suppliers_page(
    request: Request,
    session: ReadSessionDep,
    principal: Annotated[Principal, require_page(Permission.PURCHASING_VIEW)],
) -> Response:
    """Every supplier, by code."""
    context = {
        "page": "purchasing",
        "rows": supplier_service.list_all(session=session),
        "can_manage": principal.can(Permission.PURCHASING_MANAGE),
    }
    return render(request, "purchasing_suppliers.html", context, principal=principal)


@router.get(f"{SUPPLIERS}.csv", include_in_schema=False)
def suppliers_csv(
    session: ReadSessionDep,
    _: Annotated[Principal, require_page(Permission.PURCHASING_VIEW)],
) -> Response:
    """The suppliers as CSV."""
    rows = [
        [getattr(s, name) for name in SUPPLIER_CSV]
        for s in supplier_service.list_all(session=session)
    ]
    return _csv(SUPPLIER_CSV, rows, "suppliers")


@router.get(f"{SUPPLIERS}/new", include_in_schema=False)
def new_supplier_page(
    request: Request,
    session: ReadSessionDep,
    principal: Annotated[Principal, require_page(Permission.PURCHASING_MANAGE)],
) -> Response:
    """The form for a new supplier."""
    defaults = {"payment_terms_days": "30", "currency": "USD", "lead_time_days": "7"}
    return SUPPLIER.show(request, principal, session, record=None, values=defaults)


@router.post(SUPPLIERS, include_in_schema=False, dependencies=[CsrfChecked])
async def create_supplier(
    request: Request,
    session: SessionDep,
    web: WebSessionDep,
    principal: Annotated[Principal, require_page(Permission.PURCHASING_MANAGE)],
) -> Response:
    """Add a supplier from the form; errors shown next to their fields."""
    return await SUPPLIER.create(
        request, session, web, principal, refused=Refusal.FORM,
        save=lambda body: supplier_service.create(
            session=session, supplier_in=body, actor=principal.actor(Source.PAGE)
        ),
        done=lambda supplier: f"Supplier {supplier.code} added.",
    )  # fmt: skip


@router.get(f"{SUPPLIERS}/{{code}}", include_in_schema=False)
def supplier_page(
    request: Request,
    code: Annotated[str, Path(max_length=32)],
    session: ReadSessionDep,
    principal: Annotated[Principal, require_page(Permission.PURCHASING_VIEW)],
) -> Response:
    """One supplier: its form (editable with purchasing.manage), its prices, its history."""
    try:
        supplier = supplier_service.required(session=session, code=code)
    except DomainError as exc:
        return page_refusal(request, exc, principal=principal)
    values = form_values(supplier, FIELDS)
    return SUPPLIER.show(request, principal, session, record=supplier, values=values)


@router.post(f"{SUPPLIERS}/{{code}}", include_in_schema=False, dependencies=[CsrfChecked])
async def update_supplier(
    request: Request,
    code: Annotated[str, Path(max_length=32)],
    session: SessionDep,
    web: WebSessionDep,
    principal: Annotated[Principal, require_page(Permission.PURCHASING_MANAGE)],
) -> Response:
    """Save the edited supplier (the code stays)."""
    try:
        supplier = supplier_service.required(session=session, code=code)
    except DomainError as exc:
        return page_refusal(request, exc, principal=principal)
    return await SUPPLIER.update(
        request, session, web, principal, record=supplier, refused=Refusal.FORM,
        save=lambda changes: supplier_service.update(
            session=session, supplier=supplier, changes=changes, actor=principal.actor(Source.PAGE)
        ),
        done=f"Supplier {code} saved.",
    )  # fmt: skip


@router.post(f"{SUPPLIERS}/{{code}}/prices", include_in_schema=False, dependencies=[CsrfChecked])
async def add_price(
    request: Request,
    code: Annotated[str, Path(max_length=32)],
    session: SessionDep,
    web: WebSessionDep,
    principal: Annotated[Principal, require_page(Permission.PURCHASING_MANAGE)],
) -> Response:
    """Add a price (a quantity break from a date) for one of the supplier's items."""
    try:
        supplier = supplier_service.required(session=session, code=code)
    except DomainError as exc:
        return page_refusal(request, exc, principal=principal)

    def add(values: dict[str, str]) -> str:
        price_in = SupplierPriceCreate.model_validate(
            to_input(PRICE_FIELDS, values, drop_empty=True)
        )
        supplier_service.add_price(
            session=session,
            supplier=supplier,
            price_in=price_in,
            actor=principal.actor(Source.PAGE),
        )
        return values["sku"]

    added = await submit(request, session, PRICE_FIELDS, add, refusals=(DomainError,))
    if isinstance(added, Refused):  # the price form answers 422, a taken price included
        return SUPPLIER.show(
            request, principal, session, record=supplier, values=form_values(supplier, FIELDS),
            price_values=added.values, price_errors=added.errors, status_code=422,
        )  # fmt: skip
    return flash_redirect(request, web, SUPPLIER.url(supplier), f"Price for {added} added.")


@router.post(
    f"{SUPPLIERS}/{{code}}/group-discounts", include_in_schema=False, dependencies=[CsrfChecked]
)
async def add_group_discount(
    request: Request,
    code: Annotated[str, Path(max_length=32)],
    session: SessionDep,
    web: WebSessionDep,
    principal: Annotated[Principal, require_page(Permission.PURCHASING_MANAGE)],
) -> Response:
    """Add a discount on every item of an item group (from a quantity, for a period)."""
    try:
        supplier = supplier_service.required(session=session, code=code)
    except DomainError as exc:
        return page_refusal(request, exc, principal=principal)

    def add(values: dict[str, str]) -> str:
        discount_in = SupplierGroupDiscountCreate.model_validate(
            to_input(GROUP_FIELDS, values, drop_empty=True)
        )
        group_discounts.add(
            session=session,
            supplier=supplier,
            discount_in=discount_in,
            actor=principal.actor(Source.PAGE),
        )
        return discount_in.item_group

    added = await submit(request, session, GROUP_FIELDS, add, refusals=(DomainError,))
    if isinstance(added, Refused):  # the group form answers 422, a taken discount included
        return SUPPLIER.show(
            request, principal, session, record=supplier, values=form_values(supplier, FIELDS),
            group_values=added.values, group_errors=added.errors, status_code=422,
        )  # fmt: skip
    return flash_redirect(
        request, web, SUPPLIER.url(supplier), f"Discount on item group {added} added."
    )


@router.post(
    f"{SUPPLIERS}/{{code}}/group-discounts/{{discount_id}}/delete",
    include_in_schema=False,
    dependencies=[CsrfChecked],
)
async def delete_group_discount(
    request: Request,
    code: Annotated[str, Path(max_length=32)],
    discount_id: int,
    session: SessionDep,
    web: WebSessionDep,
    principal: Annotated[Principal, require_page(Permission.PURCHASING_MANAGE)],
) -> Response:
    """Remove one of the supplier's group discounts."""
    try:
        supplier = supplier_service.required(session=session, code=code)
    except DomainError as exc:
        return page_refusal(request, exc, principal=principal)
    return SUPPLIER.act(
        request, session, web, principal, record=supplier,
        action=lambda: group_discounts.delete(
            session=session, supplier=supplier, discount_id=discount_id,
            actor=principal.actor(Source.PAGE),
        ),
        done="Group discount removed.", refused="Not removed",
    )  # fmt: skip


# ---- purchase orders --------------------------------------------------------------------------


def parse_po_lines(text: str) -> list[StockPurchaseLineIn]:
    """`SKU qty [unit price]` per line; ValueError naming the line when one is wrong."""
    lines = []
    for number, raw in enumerate(text.splitlines(), start=1):
        parts = raw.replace(",", " ").split()
        if not parts:
            continue
        if len(parts) not in (2, 3) or not parts[1].isdigit():
            raise ValueError(
                f"line {number}: write the SKU, the quantity and optionally the unit price, "
                "e.g. KB-MECH 20 12.50"
            )
        try:
            lines.append(
                StockPurchaseLineIn(
                    sku=parts[0], qty=int(parts[1]), unit_price=parts[2] if len(parts) > 2 else None
                )
            )
        except ValidationError as exc:
            raise ValueError(f"line {number}: {describe(exc)}") from exc
    return lines


def _new_order_page(
    request: Request,
    principal: Principal,
    session: Session,
    *,
    values: dict[str, str],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    context = {
        "page": "purchasing",
        "fields": PO_FIELDS,
        "values": values,
        "errors": errors,
        "suppliers": supplier_service.list_all(session=session),
        "warehouses": warehouse_service.list_all(session=session, retired=False),
        "key": values.get("key") or uuid4().hex,
    }
    return render(
        request, "purchasing_order_new.html", context, principal=principal, status_code=status_code
    )


@router.get(ORDERS, include_in_schema=False)
def orders_page(
    request: Request,
    session: ReadSessionDep,
    principal: Annotated[Principal, require_page(Permission.PURCHASING_VIEW)],
) -> Response:
    """Purchase orders, newest first (the latest 200)."""
    rows, count = purchasing_service.list_purchase_orders(session=session, limit=200)
    context = {
        "page": "purchasing",
        "rows": [purchasing_service.to_public(session=session, purchase=p) for p in rows],
        "count": count,
        "can_manage": principal.can(Permission.PURCHASING_MANAGE),
    }
    return render(request, "purchasing_orders.html", context, principal=principal)


@router.get(f"{ORDERS}.csv", include_in_schema=False)
def orders_csv(
    session: ReadSessionDep,
    _: Annotated[Principal, require_page(Permission.PURCHASING_VIEW)],
) -> Response:
    """The purchase orders as CSV (the latest 10,000)."""
    rows, _count = purchasing_service.list_purchase_orders(session=session, limit=10_000)
    public = [purchasing_service.to_public(session=session, purchase=p) for p in rows]
    return _csv(
        ORDER_CSV, [[getattr(p, name) for name in ORDER_CSV] for p in public], "purchase-orders"
    )


@router.get(f"{ORDERS}/new", include_in_schema=False)
def new_order_page(
    request: Request,
    session: ReadSessionDep,
    principal: Annotated[Principal, require_page(Permission.PURCHASING_MANAGE)],
) -> Response:
    """The form for a stock purchase order."""
    return _new_order_page(request, principal, session, values={}, errors={})


@router.post(ORDERS, include_in_schema=False, dependencies=[CsrfChecked])
async def create_order(
    request: Request,
    session: SessionDep,
    state: StateDep,
    web: WebSessionDep,
    principal: Annotated[Principal, require_page(Permission.PURCHASING_MANAGE)],
) -> Response:
    """Create a stock purchase order from the form (once per form: its key)."""

    def create(values: dict[str, str]) -> str | None:
        purchase_in = StockPurchaseCreate.model_validate(
            {
                "supplier": values["supplier"],
                "warehouse": values["warehouse"] or None,
                "expected_date": values["expected_date"] or None,
                "lines": parse_po_lines(values["lines"]),
            }
        )
        purchase = purchasing_service.create_stock(
            session=session,
            key=scoped_key("purchase", purchase_in.supplier, values["key"] or None),
            purchase_in=purchase_in,
            default_warehouse=state.settings.default_warehouse,
            actor=principal.actor(Source.PAGE),
        )
        return purchase.number

    fields = (*PO_FIELDS, FormField("key", "key", max_length=64))
    # A line that does not parse is a ValueError (as is a ValidationError): on the form, 422.
    number = await submit(request, session, fields, create, refusals=(ValueError, DomainError))
    if isinstance(number, Refused):
        return _new_order_page(
            request, principal, session, values=number.values, errors=number.errors,
            status_code=422,
        )  # fmt: skip
    return flash_redirect(request, web, f"{ORDERS}/{number}", f"Purchase order {number} created.")


@router.get(f"{ORDERS}/{{number}}", include_in_schema=False)
def order_page(
    request: Request,
    number: Annotated[str, Path(max_length=32)],
    session: ReadSessionDep,
    state: StateDep,
    principal: Annotated[Principal, require_page(Permission.PURCHASING_VIEW)],
) -> Response:
    """One purchase order: its lines with what was received, its receipts, send and receive."""
    purchase = purchasing_service.get_by_number(session=session, number=number)
    if purchase is None:
        return page_refusal(
            request, purchasing_flows.PurchaseOrderNotFoundError(f"no purchase order {number}"),
            principal=principal,
        )  # fmt: skip
    context = {
        "page": "purchasing",
        "purchase": purchasing_service.to_public(session=session, purchase=purchase),
        "receipts": receiving.receipts(session=session, purchase_order_id=purchase.id or 0),
        "stock": purchase.kind == PurchaseOrderKind.STOCK,
        "tolerance": state.settings.receipt_tolerance_percent,
        "can_manage": principal.can(Permission.PURCHASING_MANAGE),
        "can_receive": principal.can(Permission.STOCK_RECEIVE),
        "receipt_key": uuid4().hex,
        # A drop-ship is billed by its supplier too (once it is on record as a supplier).
        "billable": purchase.kind == PurchaseOrderKind.STOCK or purchase.supplier_id is not None,
        "can_invoice": principal.can(Permission.SUPPLIER_INVOICES_ENTER),
        "invoices": [
            invoice_service.to_public(session=session, invoice=i)
            for i in invoice_service.list_invoices(
                session=session, purchase_order_id=purchase.id, limit=100
            )[0]
        ]
        if principal.can(Permission.SUPPLIER_INVOICES_VIEW)
        else [],
        "history": record_history(session, principal, "purchase_order", number),
    }
    return render(request, "purchasing_order.html", context, principal=principal)


@router.post(f"{ORDERS}/{{number}}/send", include_in_schema=False, dependencies=[CsrfChecked])
async def send_order(
    request: Request,
    number: Annotated[str, Path(max_length=32)],
    state: StateDep,
    web: WebSessionDep,
    principal: Annotated[Principal, require_page(Permission.PURCHASING_MANAGE)],
) -> Response:
    """Mail the purchase order to its supplier."""
    back = f"{ORDERS}/{number}"
    try:
        sent = await purchasing_flows.send(state, number=number, actor=principal.actor(Source.PAGE))
    except DomainError as exc:
        return page_refusal(request, exc, web=web, flash="Not sent", back=back, principal=principal)
    return flash_redirect(request, web, back, f"{number} mailed to {sent.supplier_email}.")


@router.post(f"{ORDERS}/{{number}}/receive", include_in_schema=False, dependencies=[CsrfChecked])
async def receive_order(
    request: Request,
    number: Annotated[str, Path(max_length=32)],
    state: StateDep,
    web: WebSessionDep,
    principal: Annotated[Principal, require_page(Permission.STOCK_RECEIVE)],
) -> Response:
    """Receive the quantities typed per line (`qty:<SKU>`); refused beyond the tolerance."""
    back = f"{ORDERS}/{number}"
    form = await request.form()
    try:
        lines = []
        for name, value in form.items():
            text = value.strip() if isinstance(value, str) else ""
            if name.startswith("qty:") and text and text != "0":
                if not text.isdigit():
                    raise ValueError(f"{name[4:]}: a whole number of units")
                lines.append(ReceiptLineIn(sku=name[4:], qty=int(text)))
        if not lines:
            raise ValueError("type the quantity received on at least one line")
        reference = form.get("reference")
        receipt_in = PurchaseReceiptIn(
            lines=lines, reference=reference[:200] if isinstance(reference, str) else None
        )
        key = form.get("key")
        await purchasing_flows.receive(
            state,
            number=number,
            key=scoped_key("po-receipt", number, key if isinstance(key, str) else None),
            receipt_in=receipt_in,
            actor=principal.actor(Source.PAGE),
        )
    except ValueError as exc:  # ValidationError is one
        text = describe(exc) if isinstance(exc, ValidationError) else str(exc)
        web.alert = f"Not received: {text}"
        response = RedirectResponse(back, status_code=303)
        store_session(request, response, web)
        return response
    except DomainError as exc:
        return page_refusal(
            request, exc, web=web, flash="Not received", back=back, principal=principal
        )
    return flash_redirect(request, web, back, f"Goods received against {number}.")


# ---- replenishment ----------------------------------------------------------------------------


@router.get("/purchasing/suggestions", include_in_schema=False)
def suggestions_page(
    request: Request,
    session: ReadSessionDep,
    principal: Annotated[Principal, require_page(Permission.PURCHASING_VIEW)],
) -> Response:
    """What to reorder: SKUs at or below their reorder point in a warehouse, with the supplier
    to buy from; the chosen ones become purchase orders."""
    context = {
        "page": "purchasing",
        "rows": replenishment.suggestions(session=session, on=utcnow().date()),
        "can_manage": principal.can(Permission.PURCHASING_MANAGE),
        "key": uuid4().hex,
    }
    return render(request, "purchasing_suggestions.html", context, principal=principal)


@router.post("/purchasing/suggestions", include_in_schema=False, dependencies=[CsrfChecked])
async def order_suggestions(
    request: Request,
    session: SessionDep,
    state: StateDep,
    web: WebSessionDep,
    principal: Annotated[Principal, require_page(Permission.PURCHASING_MANAGE)],
) -> Response:
    """Turn the ticked suggestions (`pick` = `SKU@WAREHOUSE`) into purchase orders, one per
    supplier and warehouse (once per form: its key)."""
    form = await request.form()
    refs = [v for v in form.getlist("pick") if isinstance(v, str)][:200]
    key = form.get("key")
    back = "/purchasing/suggestions"
    try:
        if not refs:
            raise Invalid("tick at least one suggestion")
        created = replenishment.order(
            session=session,
            key=f"replenish:{key if isinstance(key, str) and key else uuid4().hex}"[:100],
            refs=refs,
            default_warehouse=state.settings.default_warehouse,
            actor=principal.actor(Source.PAGE),
            on=utcnow().date(),
        )
    except DomainError as exc:
        session.rollback()
        return page_refusal(
            request, exc, web=web, flash="Not ordered", back=back, principal=principal
        )
    numbers = ", ".join(p.number or "" for p in created)
    return flash_redirect(request, web, ORDERS, f"Purchase orders {numbers} created.")
