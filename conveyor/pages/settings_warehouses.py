"""Settings: warehouses listed, created, edited (name, address, staging) and retired."""

from typing import Annotated

from fastapi import Path, Query, Request
from fastapi.responses import Response
from sqlmodel import Session

from api.deps import Principal, ReadSessionDep, SessionDep, StateDep
from conveyor.audit.models import Source
from conveyor.auth.permissions import Permission
from conveyor.core.errors import NotFound
from conveyor.inventory import service as inventory_service
from conveyor.inventory import warehouses as warehouse_service
from conveyor.inventory.models import Warehouse, WarehouseCreate, WarehouseUpdate
from conveyor.pages.form_page import FormPage
from conveyor.pages.settings_forms import FormField, form_values
from conveyor.pages.web import CsrfChecked, WebSessionDep, page_router, render, require_page

router = page_router()
BASE = "/settings/warehouses"
CODE = FormField("code", "Code", max_length=16, hint="A-Z, 0-9, - and _; kept for good")
FIELDS = (
    FormField("name", "Name"),
    FormField("address", "Address", "textarea", max_length=500),
    FormField(
        "staging_location",
        "Staging location",
        max_length=32,
        nullable=True,
        hint="picking moves goods here before packing; empty: the default",
    ),
)


FORM = FormPage(
    template="settings_warehouse.html",
    section="settings",
    record_name="warehouse",
    base=BASE,
    key="code",
    entity="warehouse",
    fields=FIELDS,
    create_shape=WarehouseCreate,
    update_shape=WarehouseUpdate,
    manage=Permission.PRODUCTS_MANAGE,
    code_field=CODE,
    taken=(inventory_service.WarehouseExistsError,),
)


def _warehouse(session: Session, code: str) -> Warehouse:
    warehouse = inventory_service.get_warehouse(session=session, code=code.upper())
    if warehouse is None:
        raise NotFound(f"There is no warehouse {code}.")
    return warehouse


@router.get(BASE, include_in_schema=False)
def warehouses_page(
    request: Request,
    session: ReadSessionDep,
    principal: Annotated[Principal, require_page(Permission.STOCK_VIEW)],
    retired: Annotated[str, Query(max_length=3)] = "",
) -> Response:
    """The warehouses in use (or, with `retired=yes`, the retired ones), by code."""
    rows = warehouse_service.list_all(session=session, retired=retired == "yes")
    context = {
        "page": "settings",
        "rows": rows,
        "retired": retired == "yes",
        "can_manage": principal.can(Permission.PRODUCTS_MANAGE),
    }
    return render(request, "settings_warehouses.html", context, principal=principal)


@router.get(f"{BASE}/new", include_in_schema=False)
def new_warehouse_page(
    request: Request,
    session: ReadSessionDep,
    principal: Annotated[Principal, require_page(Permission.PRODUCTS_MANAGE)],
) -> Response:
    """The form for a new warehouse."""
    return FORM.show(request, principal, session, record=None, values={})


@router.post(BASE, include_in_schema=False, dependencies=[CsrfChecked])
async def create_warehouse(
    request: Request,
    session: SessionDep,
    web: WebSessionDep,
    principal: Annotated[Principal, require_page(Permission.PRODUCTS_MANAGE)],
) -> Response:
    """Add a warehouse from the form; errors shown next to their fields."""
    return await FORM.create(
        request, session, web, principal,
        save=lambda body: inventory_service.create_warehouse(
            session=session, warehouse_in=body, actor=principal.actor(Source.PAGE)
        ),
        done=lambda warehouse: f"Warehouse {warehouse.code} added.",
    )  # fmt: skip


@router.get(f"{BASE}/{{code}}", include_in_schema=False)
def warehouse_page(
    request: Request,
    code: Annotated[str, Path(max_length=16)],
    session: ReadSessionDep,
    state: StateDep,
    principal: Annotated[Principal, require_page(Permission.STOCK_VIEW)],
) -> Response:
    """One warehouse: its form (editable with products.manage), why it cannot be retired yet
    (if so), and its history."""
    warehouse = _warehouse(session, code)
    refusal = warehouse_service.retire_refusal(
        session=session, warehouse=warehouse, default_warehouse=state.settings.default_warehouse
    )
    values = form_values(warehouse, FIELDS)
    return FORM.show(
        request, principal, session, record=warehouse, values=values, retire_refusal=refusal
    )


@router.post(f"{BASE}/{{code}}", include_in_schema=False, dependencies=[CsrfChecked])
async def update_warehouse(
    request: Request,
    code: Annotated[str, Path(max_length=16)],
    session: SessionDep,
    web: WebSessionDep,
    principal: Annotated[Principal, require_page(Permission.PRODUCTS_MANAGE)],
) -> Response:
    """Save the edited warehouse (the code stays)."""
    warehouse = _warehouse(session, code)
    return await FORM.update(
        request, session, web, principal, record=warehouse,
        save=lambda changes: warehouse_service.update(
            session=session, warehouse=warehouse, changes=changes,
            actor=principal.actor(Source.PAGE),
        ),
        done=f"Warehouse {warehouse.code} saved.",
    )  # fmt: skip


@router.post(f"{BASE}/{{code}}/retire", include_in_schema=False, dependencies=[CsrfChecked])
def retire_warehouse(
    request: Request,
    code: Annotated[str, Path(max_length=16)],
    session: SessionDep,
    state: StateDep,
    web: WebSessionDep,
    principal: Annotated[Principal, require_page(Permission.PRODUCTS_MANAGE)],
) -> Response:
    """Retire the warehouse, or say why it cannot be retired yet."""
    warehouse = _warehouse(session, code)
    return FORM.act(
        request, session, web, principal, record=warehouse,
        action=lambda: warehouse_service.retire(
            session=session, warehouse=warehouse,
            default_warehouse=state.settings.default_warehouse,
            actor=principal.actor(Source.PAGE),
        ),
        done=f"Warehouse {warehouse.code} retired.", refused="Not retired",
    )  # fmt: skip
