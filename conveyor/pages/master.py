"""Master data pages: create, edit and retire customers (addresses, contacts) and products."""

from typing import Annotated, Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError
from sqlmodel import Session

from api.deps import Principal, ReadSessionDep, SessionDep, StateDep
from conveyor.audit.models import Source
from conveyor.auth.permissions import Permission
from conveyor.core.errors import DomainError, Forbidden, NotFound
from conveyor.customer import addresses as address_service
from conveyor.customer import service as customer_service
from conveyor.customer.models import (
    Customer,
    CustomerAddress,
    CustomerAddressCreate,
    CustomerAddressUpdate,
    CustomerContact,
    CustomerContactCreate,
    CustomerCreate,
    CustomerUpdate,
)
from conveyor.inventory import catalogue
from conveyor.inventory import service as inventory_service
from conveyor.inventory.models import Product, ProductCreate, ProductUpdate
from conveyor.pages.history import record_history
from conveyor.pages.settings_forms import (
    FormField,
    FormTooLong,
    errors_of,
    form_values,
    read_form,
    status_of,
    to_input,
)
from conveyor.pages.web import (
    CsrfChecked,
    WebSessionDep,
    flash_redirect,
    page_router,
    render,
    require_page,
)

router = page_router()
CustomerEditor = Annotated[Principal, require_page(Permission.CUSTOMERS_EDIT)]
ProductManager = Annotated[Principal, require_page(Permission.PRODUCTS_MANAGE)]

CUSTOMER_FIELDS = (
    FormField("name", "Name"),
    FormField("email", "E-mail", max_length=320),
    FormField("group", "Customer group", max_length=50),
    FormField("country", "Country (2 letters)", max_length=2),
    FormField("credit_limit", "Credit limit", "number", max_length=20),
    FormField("payment_terms_days", "Payment terms (days)", "number", max_length=4),
    FormField(
        "payment_terms_code",
        "Payment terms template",
        max_length=16,
        nullable=True,
        hint="a code from Settings › Payment terms (NET30); its net days replace the days",
    ),
    FormField(
        "account_rep_id", "Account rep (employee id)", "number", max_length=12, nullable=True
    ),
)
ADDRESS_FIELDS = (
    FormField(
        "kind", "Use for", "select", options=(("shipping", "shipping"), ("billing", "billing"))
    ),
    FormField("name", "Name"),
    FormField("line1", "Street and number"),
    FormField("line2", "Address line 2", nullable=True),
    FormField("postcode", "Postcode", max_length=20, nullable=True),
    FormField("city", "City", max_length=100),
    FormField("region", "Region", max_length=100, nullable=True),
    FormField("country", "Country (2 letters)", max_length=2),
    FormField("is_default", "Default", "checkbox"),
)
CONTACT_FIELDS = (
    FormField("name", "Name"),
    FormField("email", "E-mail", max_length=320, nullable=True),
    FormField("phone", "Phone", max_length=40, nullable=True),
    FormField("role", "Role", max_length=100, nullable=True),
)
PRODUCT_FIELDS = (
    FormField("sku", "SKU", max_length=64, create_only=True),
    FormField("name", "Name"),
    FormField("price", "Price", "number", max_length=20),
    FormField("currency", "Currency", max_length=3, create_only=True),
    FormField("tags", "Tags (comma separated)", max_length=500),
    FormField("item_group", "Item group", max_length=50, nullable=True),
    FormField("tax_class", "Tax class", max_length=32),
    FormField("options", "Options (SKUs, comma separated)", max_length=1400),
    FormField(
        "kind",
        "Kind",
        "select",
        options=(("goods", "goods (kept in stock)"), ("service", "service (no stock)")),
        hint="a service is never stock-checked, picked or packed; invoiced once delivered",
    ),
    FormField("drop_ship", "Drop-ship", "checkbox"),
    FormField(
        "drop_ship_allowed",
        "Drop-ship allowable",
        "checkbox",
        hint="each order line from stock, or from a supplier when asked or when stock is short",
    ),
    FormField("supplier_email", "Supplier e-mail", max_length=320, nullable=True),
    FormField(
        "location",
        "Bin in the default warehouse",
        max_length=32,
        nullable=True,
        create_only=True,
        hint="empty: a bin named after the SKU",
    ),
)
LIST_FIELDS = ("tags", "options")


def _customer(session: Session, principal: Principal, customer_id: int) -> Customer:
    """The customer, or NotFound when missing or owned by another rep (the caller's rule)."""
    customer = customer_service.get(session=session, customer_id=customer_id)
    rep = principal.own_accounts_only()
    if customer is None or (rep is not None and customer.account_rep_id != rep):
        raise NotFound(f"There is no customer {customer_id}.")
    return customer


def _customer_page(
    request: Request,
    principal: Principal,
    session: Session,
    *,
    customer: Customer | None,
    values: dict[str, str],
    errors: dict[str, str],
    sub_errors: dict[str, dict[str, str]] | None = None,
    sub_values: dict[str, dict[str, str]] | None = None,
    status_code: int = 200,
) -> Response:
    customer_id = customer.id if customer is not None else None
    context: dict[str, Any] = {
        "page": "customers",
        "record": customer,
        "fields": CUSTOMER_FIELDS,
        "address_fields": ADDRESS_FIELDS,
        "contact_fields": CONTACT_FIELDS,
        "values": values,
        "errors": errors,
        "sub_errors": sub_errors or {"address": {}, "contact": {}},
        "sub_values": sub_values
        or {"address": {"country": values.get("country", "US")}, "contact": {}},
        "addresses": address_service.list_addresses(session=session, customer_id=customer_id)
        if customer_id
        else [],
        "contacts": address_service.list_contacts(session=session, customer_id=customer_id)
        if customer_id
        else [],
        "history": record_history(session, principal, "customer", customer_id)
        if customer_id
        else None,
    }
    return render(
        request, "customer_form.html", context, principal=principal, status_code=status_code
    )


NEW_CUSTOMER = {"group": "retail", "country": "US", "credit_limit": "0.00"}
NEW_CUSTOMER |= {"payment_terms_days": "30"}


@router.get("/customers/new", include_in_schema=False)
def new_customer_page(
    request: Request, session: ReadSessionDep, principal: CustomerEditor
) -> Response:
    """The form for a new customer."""
    return _customer_page(
        request, principal, session, customer=None, values=NEW_CUSTOMER, errors={}
    )


def _form_error(exc: ValidationError | FormTooLong | DomainError) -> dict[str, str]:
    if isinstance(exc, DomainError):
        message = exc.message
        field = "email" if "e-mail" in message else "account_rep_id" if "rep" in message else ""
        if "payment terms" in message:
            field = "payment_terms_code"
        return {field: message}
    return errors_of(exc)


@router.post("/customers/new", include_in_schema=False, dependencies=[CsrfChecked])
async def create_customer(
    request: Request, session: SessionDep, web: WebSessionDep, principal: CustomerEditor
) -> Response:
    """Add a customer from the form; errors shown next to their fields."""
    values: dict[str, str] = {}
    try:
        values = await read_form(request, CUSTOMER_FIELDS)
        customer_in = CustomerCreate.model_validate(to_input(CUSTOMER_FIELDS, values))
        customer = customer_service.create(
            session=session, customer_in=customer_in, actor=principal.actor(Source.PAGE)
        )
    except (ValidationError, FormTooLong, DomainError) as exc:
        session.rollback()
        status_code = status_of(exc)
        return _customer_page(
            request,
            principal,
            session,
            customer=None,
            values=values,
            errors=_form_error(exc),
            status_code=status_code,
        )
    return flash_redirect(
        request, web, f"/customers/{customer.id}/edit", f"Customer {customer.name} added."
    )


@router.get("/customers/{customer_id}/edit", include_in_schema=False)
def edit_customer_page(
    request: Request, customer_id: int, session: ReadSessionDep, principal: CustomerEditor
) -> Response:
    """A customer's form, addresses, contacts and history."""
    customer = _customer(session, principal, customer_id)
    values = form_values(customer, CUSTOMER_FIELDS)
    return _customer_page(request, principal, session, customer=customer, values=values, errors={})


@router.post("/customers/{customer_id}/edit", include_in_schema=False, dependencies=[CsrfChecked])
async def update_customer(
    request: Request,
    customer_id: int,
    session: SessionDep,
    web: WebSessionDep,
    principal: CustomerEditor,
) -> Response:
    """Save the customer's form (checked like the PATCH route)."""
    customer = _customer(session, principal, customer_id)
    values: dict[str, str] = {}
    try:
        values = await read_form(request, CUSTOMER_FIELDS)
        data = to_input(CUSTOMER_FIELDS, values)
        CustomerCreate.model_validate(data)  # the whole form, for errors by field
        changes = CustomerUpdate.model_validate(data)
        rep = principal.own_accounts_only()
        if rep is not None and changes.account_rep_id != rep:
            raise Forbidden("a sales rep cannot hand an account on")
        customer_service.update(
            session=session,
            customer=customer,
            customer_in=changes,
            actor=principal.actor(Source.PAGE),
        )
    except (ValidationError, FormTooLong, DomainError) as exc:
        session.rollback()
        customer = _customer(session, principal, customer_id)
        status_code = status_of(exc)
        return _customer_page(
            request,
            principal,
            session,
            customer=customer,
            values=values,
            errors=_form_error(exc),
            status_code=status_code,
        )
    return flash_redirect(request, web, f"/customers/{customer_id}/edit", "Customer saved.")


@router.post("/customers/{customer_id}/retire", include_in_schema=False, dependencies=[CsrfChecked])
def retire_customer(
    request: Request,
    customer_id: int,
    session: SessionDep,
    web: WebSessionDep,
    principal: CustomerEditor,
) -> Response:
    """Retire the customer (kept for history; no new orders)."""
    customer = _customer(session, principal, customer_id)
    customer_service.retire(session=session, customer=customer, actor=principal.actor(Source.PAGE))
    return flash_redirect(
        request, web, f"/customers/{customer_id}/edit", f"Customer {customer.name} retired."
    )


async def _add_sub(
    request: Request,
    session: Session,
    principal: Principal,
    customer: Customer,
    which: str,
) -> dict[str, str] | None:
    """Add an address or contact from its form; the errors by field (None when added)."""
    fields = ADDRESS_FIELDS if which == "address" else CONTACT_FIELDS
    model: type[BaseModel] = CustomerAddressCreate if which == "address" else CustomerContactCreate
    values: dict[str, str] = {}
    try:
        values = await read_form(request, fields)
        item = model.model_validate(to_input(fields, values))
        if isinstance(item, CustomerAddressCreate):
            address_service.add_address(
                session=session,
                customer=customer,
                address_in=item,
                actor=principal.actor(Source.PAGE),
            )
        elif isinstance(item, CustomerContactCreate):
            address_service.add_contact(
                session=session,
                customer=customer,
                contact_in=item,
                actor=principal.actor(Source.PAGE),
            )
    except (ValidationError, FormTooLong, DomainError) as exc:
        session.rollback()
        request.state.sub_values = values
        return errors_of(exc)
    return None


async def _add_page(
    request: Request,
    customer_id: int,
    which: str,
    session: Session,
    web: WebSessionDep,
    principal: Principal,
) -> Response:
    """Add an address or a contact; back to the form, or the form with the errors shown."""
    customer = _customer(session, principal, customer_id)
    errors = await _add_sub(request, session, principal, customer, which)
    if errors is None:
        return flash_redirect(
            request, web, f"/customers/{customer_id}/edit", f"{which.title()} added."
        )
    customer = _customer(session, principal, customer_id)
    other = "contact" if which == "address" else "address"
    return _customer_page(
        request,
        principal,
        session,
        customer=customer,
        values=form_values(customer, CUSTOMER_FIELDS),
        errors={},
        sub_errors={which: errors, other: {}},
        sub_values={which: request.state.sub_values, other: {"country": customer.country}},
        status_code=409 if list(errors) == [""] else 422,
    )


@router.post(
    "/customers/{customer_id}/addresses", include_in_schema=False, dependencies=[CsrfChecked]
)
async def add_address(
    request: Request,
    customer_id: int,
    session: SessionDep,
    web: WebSessionDep,
    principal: CustomerEditor,
) -> Response:
    """Add a billing or shipping address from the customer's form."""
    return await _add_page(request, customer_id, "address", session, web, principal)


@router.post(
    "/customers/{customer_id}/contacts", include_in_schema=False, dependencies=[CsrfChecked]
)
async def add_contact(
    request: Request,
    customer_id: int,
    session: SessionDep,
    web: WebSessionDep,
    principal: CustomerEditor,
) -> Response:
    """Add a contact from the customer's form."""
    return await _add_page(request, customer_id, "contact", session, web, principal)


@router.post(
    "/customers/{customer_id}/addresses/{address_id}/retire",
    include_in_schema=False,
    dependencies=[CsrfChecked],
)
def retire_address(
    request: Request,
    customer_id: int,
    address_id: int,
    session: SessionDep,
    web: WebSessionDep,
    principal: CustomerEditor,
) -> Response:
    """Retire an address (kept for the orders that name it)."""
    customer = _customer(session, principal, customer_id)
    address_service.retire_address(
        session=session,
        customer=customer,
        address=address_service.owned(
            session=session, model=CustomerAddress, customer_id=customer_id, row=address_id
        ),
        actor=principal.actor(Source.PAGE),
    )
    return flash_redirect(request, web, f"/customers/{customer_id}/edit", "Address retired.")


@router.post(
    "/customers/{customer_id}/addresses/{address_id}/default",
    include_in_schema=False,
    dependencies=[CsrfChecked],
)
def make_default_address(
    request: Request,
    customer_id: int,
    address_id: int,
    session: SessionDep,
    web: WebSessionDep,
    principal: CustomerEditor,
) -> Response:
    """Make an address the default of its kind."""
    customer = _customer(session, principal, customer_id)
    address_service.update_address(
        session=session,
        customer=customer,
        address=address_service.owned(
            session=session, model=CustomerAddress, customer_id=customer_id, row=address_id
        ),
        address_in=CustomerAddressUpdate(is_default=True),
        actor=principal.actor(Source.PAGE),
    )
    return flash_redirect(request, web, f"/customers/{customer_id}/edit", "Default address set.")


@router.post(
    "/customers/{customer_id}/contacts/{contact_id}/retire",
    include_in_schema=False,
    dependencies=[CsrfChecked],
)
def retire_contact(
    request: Request,
    customer_id: int,
    contact_id: int,
    session: SessionDep,
    web: WebSessionDep,
    principal: CustomerEditor,
) -> Response:
    """Retire a contact."""
    customer = _customer(session, principal, customer_id)
    contact = address_service.owned(
        session=session, model=CustomerContact, customer_id=customer_id, row=contact_id
    )
    address_service.retire_contact(
        session=session, customer=customer, contact=contact, actor=principal.actor(Source.PAGE)
    )
    return flash_redirect(request, web, f"/customers/{customer_id}/edit", "Contact retired.")


# ---- products -------------------------------------------------------------------------------


def _product(session: Session, sku: str) -> Product:
    product = inventory_service.get_by_sku(session=session, sku=sku)
    if product is None:
        raise NotFound(f"There is no product {sku}.")
    return product


def _product_values(product: Product) -> dict[str, str]:
    values = form_values(product, PRODUCT_FIELDS)
    for name in LIST_FIELDS:
        values[name] = ", ".join(getattr(product, name))
    return values


def _product_input(values: dict[str, str]) -> dict[str, Any]:
    data = to_input(PRODUCT_FIELDS, values)
    for name in LIST_FIELDS:
        data[name] = [part.strip() for part in values.get(name, "").split(",") if part.strip()]
    if not data.get("kind"):  # a form without the kind: goods when new, unchanged on edit
        data.pop("kind", None)
    return data


def _product_page(
    request: Request,
    principal: Principal,
    session: Session,
    *,
    product: Product | None,
    values: dict[str, str],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    context: dict[str, Any] = {
        "page": "products",
        "record": product,
        "fields": PRODUCT_FIELDS,
        "values": values,
        "errors": errors,
        "bins": inventory_service.balances(session=session, sku=product.sku) if product else [],
        "warehouses": inventory_service.list_warehouses(session=session),
        "history": record_history(session, principal, "product", product.sku) if product else None,
    }
    return render(
        request, "product_form.html", context, principal=principal, status_code=status_code
    )


def _product_error(exc: ValidationError | FormTooLong | DomainError | Exception) -> dict[str, str]:
    if isinstance(exc, DomainError):
        message = exc.message
        for field in ("option", "location", "bin", "warehouse", "supplier"):
            if field in message:
                name = {"option": "options", "bin": "bins", "warehouse": "bins"}.get(field, field)
                name = "supplier_email" if field == "supplier" else name
                return {name: message}
        return {"": message}
    if isinstance(exc, ValidationError | FormTooLong):
        return errors_of(exc)
    return {"": str(exc)}


@router.get("/products/new", include_in_schema=False)
def new_product_page(
    request: Request, session: ReadSessionDep, principal: ProductManager
) -> Response:
    """The form for a new product."""
    values = {"currency": "USD", "tax_class": "standard", "price": "0.00"}
    return _product_page(request, principal, session, product=None, values=values, errors={})


@router.post("/products/new", include_in_schema=False, dependencies=[CsrfChecked])
async def create_product(
    request: Request,
    session: SessionDep,
    state: StateDep,
    web: WebSessionDep,
    principal: ProductManager,
) -> Response:
    """Add a product from the form; errors shown next to their fields."""
    values: dict[str, str] = {}
    try:
        values = await read_form(request, PRODUCT_FIELDS)
        product_in = ProductCreate.model_validate(_product_input(values))
        product = inventory_service.create(
            session=session,
            product_in=product_in,
            default_warehouse=state.settings.default_warehouse,
            actor=principal.actor(Source.PAGE),
        )
    except (
        ValidationError,
        FormTooLong,
        DomainError,
        inventory_service.ProductExistsError,
        inventory_service.UnknownSkuError,
    ) as exc:
        session.rollback()
        errors = _product_error(exc)
        if isinstance(exc, inventory_service.ProductExistsError):
            errors = {"sku": str(exc)}
        elif isinstance(exc, inventory_service.UnknownSkuError):
            errors = {"options": str(exc)}
        return _product_page(
            request, principal, session, product=None, values=values, errors=errors, status_code=422
        )
    return flash_redirect(
        request, web, f"/products/{product.sku}/edit", f"Product {product.sku} added."
    )


@router.get("/products/{sku}/edit", include_in_schema=False)
def edit_product_page(
    request: Request, sku: str, session: ReadSessionDep, principal: ProductManager
) -> Response:
    """A product's form, bins per warehouse and history."""
    product = _product(session, sku)
    return _product_page(
        request, principal, session, product=product, values=_product_values(product), errors={}
    )


@router.post("/products/{sku}/edit", include_in_schema=False, dependencies=[CsrfChecked])
async def update_product(
    request: Request, sku: str, session: SessionDep, web: WebSessionDep, principal: ProductManager
) -> Response:
    """Save the product's form and its bins (`bin_<WAREHOUSE>` inputs)."""
    product = _product(session, sku)
    values: dict[str, str] = {}
    try:
        editable = tuple(f for f in PRODUCT_FIELDS if not f.create_only)
        values = await read_form(request, editable)
        form = await request.form()
        bins = {
            str(key)[4:]: str(value).strip()
            for key, value in list(form.items())[:60]
            if str(key).startswith("bin_") and str(value).strip()
        }
        data = _product_input(values)
        data = {k: v for k, v in data.items() if k in ProductUpdate.model_fields}
        changes = ProductUpdate.model_validate(data | {"bins": bins})
        catalogue.update(
            session=session, product=product, product_in=changes, actor=principal.actor(Source.PAGE)
        )
    except (ValidationError, FormTooLong, DomainError) as exc:
        session.rollback()
        product = _product(session, sku)
        status_code = status_of(exc)
        return _product_page(
            request,
            principal,
            session,
            product=product,
            values=values | {"sku": product.sku, "currency": product.currency},
            errors=_product_error(exc),
            status_code=status_code,
        )
    return flash_redirect(request, web, f"/products/{sku}/edit", "Product saved.")


@router.post("/products/{sku}/retire", include_in_schema=False, dependencies=[CsrfChecked])
def retire_product(
    request: Request, sku: str, session: SessionDep, web: WebSessionDep, principal: ProductManager
) -> Response:
    """Retire the product; refused (flash naming the orders) while open orders hold it."""
    product = _product(session, sku)
    try:
        catalogue.retire(session=session, product=product, actor=principal.actor(Source.PAGE))
    except DomainError as exc:
        session.rollback()
        return flash_redirect(request, web, f"/products/{sku}/edit", f"Not retired: {exc.message}")
    return flash_redirect(request, web, f"/products/{sku}/edit", f"Product {sku} retired.")
