"""Settings: warehouses listed, created, edited (name, address, staging) and retired."""

from typing import Annotated

from fastapi import Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlmodel import Session

from api.deps import Principal, ReadSessionDep, SessionDep, StateDep
from conveyor.audit.models import Source
from conveyor.auth.permissions import Permission
from conveyor.core.errors import DomainError, NotFound
from conveyor.inventory import service as inventory_service
from conveyor.inventory import warehouses as warehouse_service
from conveyor.inventory.models import Warehouse, WarehouseCreate, WarehouseUpdate
from conveyor.pages.history import record_history
from conveyor.pages.settings_forms import (
    FormField,
    FormTooLong,
    errors_of,
    form_values,
    read_form,
    to_input,
)
from conveyor.pages.web import (
    CsrfChecked,
    WebSessionDep,
    page_refusal,
    page_router,
    render,
    require_page,
    store_session,
)

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


def _form_page(
    request: Request,
    principal: Principal,
    session: Session,
    *,
    warehouse: Warehouse | None,
    values: dict[str, str],
    errors: dict[str, str],
    refusal: str | None = None,
    status_code: int = 200,
) -> Response:
    context = {
        "page": "settings",
        "warehouse": warehouse,
        "code_field": CODE,
        "fields": FIELDS,
        "values": values,
        "errors": errors,
        "retire_refusal": refusal,
        "can_manage": principal.can(Permission.PRODUCTS_MANAGE),
        "history": record_history(session, principal, "warehouse", warehouse.code)
        if warehouse
        else None,
    }
    return render(
        request, "settings_warehouse.html", context, principal=principal, status_code=status_code
    )


def _saved(request: Request, web: WebSessionDep, code: str, text: str) -> Response:
    web.flash = text
    response = RedirectResponse(f"{BASE}/{code}", status_code=303)
    store_session(request, response, web)
    return response


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
    return _form_page(request, principal, session, warehouse=None, values={}, errors={})


@router.post(BASE, include_in_schema=False, dependencies=[CsrfChecked])
async def create_warehouse(
    request: Request,
    session: SessionDep,
    web: WebSessionDep,
    principal: Annotated[Principal, require_page(Permission.PRODUCTS_MANAGE)],
) -> Response:
    """Add a warehouse from the form; errors shown next to their fields."""
    values: dict[str, str] = {}
    try:
        values = await read_form(request, (CODE, *FIELDS))
        body = WarehouseCreate.model_validate(to_input((CODE, *FIELDS), values))
        warehouse = inventory_service.create_warehouse(
            session=session, warehouse_in=body, actor=principal.actor(Source.PAGE)
        )
    except (ValidationError, FormTooLong) as exc:
        errors = errors_of(exc)
    except inventory_service.WarehouseExistsError as exc:
        session.rollback()
        errors = {"code": str(exc)}
    else:
        return _saved(request, web, warehouse.code, f"Warehouse {warehouse.code} added.")
    return _form_page(
        request, principal, session, warehouse=None, values=values, errors=errors, status_code=422
    )


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
    return _form_page(
        request, principal, session, warehouse=warehouse, values=values, errors={}, refusal=refusal
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
    values: dict[str, str] = {}
    try:
        values = await read_form(request, FIELDS)
        data = to_input(FIELDS, values)
        WarehouseCreate.model_validate({"code": warehouse.code, **data})  # errors by field
        warehouse_service.update(
            session=session,
            warehouse=warehouse,
            changes=WarehouseUpdate.model_validate(data),
            actor=principal.actor(Source.PAGE),
        )
    except (ValidationError, FormTooLong) as exc:
        return _form_page(
            request, principal, session, warehouse=warehouse, values=values,
            errors=errors_of(exc), status_code=422,
        )  # fmt: skip
    except DomainError as exc:
        session.rollback()
        return page_refusal(
            request, exc, web=web, flash="Not saved", back=f"{BASE}/{warehouse.code}",
            principal=principal,
        )  # fmt: skip
    return _saved(request, web, warehouse.code, f"Warehouse {warehouse.code} saved.")


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
    try:
        warehouse_service.retire(
            session=session,
            warehouse=warehouse,
            default_warehouse=state.settings.default_warehouse,
            actor=principal.actor(Source.PAGE),
        )
    except DomainError as exc:
        session.rollback()
        return page_refusal(
            request,
            exc,
            web=web,
            flash="Not retired",
            back=f"{BASE}/{warehouse.code}",
            principal=principal,
        )
    return _saved(request, web, warehouse.code, f"Warehouse {warehouse.code} retired.")
