"""Stock pages: levels per SKU and warehouse (and as CSV), receiving, moves and adjustments."""

import asyncio
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Annotated, Any

from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel, Field, StringConstraints, ValidationError
from sqlmodel import Session

from api.deps import Principal, ReadSessionDep, StateDep
from conveyor.audit.models import Source
from conveyor.auth.permissions import Permission
from conveyor.core.db import session_scope
from conveyor.core.errors import DomainError, Invalid, NotFound
from conveyor.core.idempotency import scoped_key
from conveyor.core.state import AppState
from conveyor.inventory import levels as stock_levels
from conveyor.inventory import moves as stock_moves
from conveyor.inventory import service as inventory_service
from conveyor.inventory import warehouses as warehouse_service
from conveyor.inventory.models import (
    SKU_PATTERN,
    AdjustReason,
    ReorderLevel,
    StockAdjust,
    StockMove,
    StockReceive,
    StockRow,
)
from conveyor.order import flows as order_flows
from conveyor.pages import imports, listing
from conveyor.pages.auth import redirect
from conveyor.pages.listing import Filter, Listing, ListView
from conveyor.pages.web import (
    CsrfChecked,
    WebSessionDep,
    page_router,
    render,
    require_page,
)

router = page_router()
# The CSV import pages (customers, products, prices, opening stock) live in pages/imports.py.
router.include_router(imports.router)

Sku = Annotated[str, StringConstraints(strip_whitespace=True, pattern=SKU_PATTERN, max_length=64)]
# A hidden field each form carries: a double-submitted form counts once.
OperationKey = Annotated[str, StringConstraints(pattern=r"^[a-f0-9]{32}$")]


class ReceiveForm(StockReceive):
    sku: Sku
    op: OperationKey | None = None


class MoveForm(StockMove):
    sku: Sku
    op: OperationKey | None = None


class AdjustForm(StockAdjust):
    sku: Sku
    op: OperationKey | None = None


class ReorderForm(ReorderLevel):
    sku: Sku
    reorder_level: int | None = Field(default=None, ge=0, le=1_000_000)


STOCK = Listing(
    path="/stock",
    filters=(
        Filter("q", "SKU or name"),
        Filter("warehouse", "Warehouse", "choice"),
        Filter("low", "Low stock", "choice", ("yes",)),
    ),
    sorts=stock_levels.SORTS,
    default_sort="sku",
    default_desc=False,
    tiebreak=stock_levels.TIEBREAK,
)
CSV_HEADER = (
    "sku",
    "name",
    "warehouse",
    "location",
    "on_hand",
    "committed",
    "available",
    "incoming",
    "reorder_level",
    "low",
)


def _view(request: Request, session: Session, state: AppState) -> tuple[ListView, Any]:
    codes = tuple(w.code for w in inventory_service.list_warehouses(session=session))
    shape = replace(
        STOCK,
        filters=tuple(
            replace(f, choices=codes) if f.name == "warehouse" else f for f in STOCK.filters
        ),
    )
    view = listing.read(shape, request)
    query = stock_levels.search(
        default_level=state.settings.low_stock_level,
        q=view.get("q"),
        warehouse=view.get("warehouse"),
        low_only=view.get("low") == "yes",
    )
    return view, query


def _show(
    request: Request,
    session: Session,
    state: AppState,
    principal: Principal,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    view, query = _view(request, session, state)
    items = [stock_levels.to_row(row) for row in listing.rows(session, view, query)]
    context = listing.context(
        view,
        "products",
        items,
        warehouses=warehouse_service.list_all(session=session, retired=False),
        reasons=list(AdjustReason),
        form=form or {},
        errors=errors or {},
        op=uuid.uuid4().hex,
        default_warehouse=state.settings.default_warehouse,
        default_level=state.settings.low_stock_level,
        may_receive=principal.can(Permission.STOCK_RECEIVE),
        may_adjust=principal.can(Permission.STOCK_ADJUST),
    )
    return render(request, "stock.html", context, status_code=status_code, principal=principal)


@router.get("/stock", include_in_schema=False)
def stock_page(
    request: Request,
    session: ReadSessionDep,
    state: StateDep,
    principal: Annotated[Principal, require_page(Permission.STOCK_VIEW)],
) -> Response:
    """The stock list (filtered, sorted, paged) with the receive, move and adjust forms."""
    return _show(request, session, state, principal)


@router.get("/stock.csv", include_in_schema=False)
def stock_csv(
    request: Request,
    session: ReadSessionDep,
    state: StateDep,
    principal: Annotated[Principal, require_page(Permission.STOCK_VIEW)],
) -> Response:
    """The same filtered stock list as CSV."""
    view, query = _view(request, session, state)

    def row(result: Any) -> Sequence[object]:
        item: StockRow = stock_levels.to_row(result)
        return (*(getattr(item, name) for name in CSV_HEADER[:-1]), "yes" if item.low else "no")

    return listing.export(session, view, query, header=CSV_HEADER, row=row, filename="stock")


# ---- the forms ----------------------------------------------------------------------------------


async def _form(request: Request) -> dict[str, str]:
    """The posted fields, trimmed, without the empty ones and the CSRF token (bounded in size by
    the app's body limit)."""
    posted = await request.form()
    return {
        name: value.strip()
        for name, value in posted.items()
        if isinstance(value, str) and value.strip() and name != "csrf_token"
    }


def _field_errors(exc: ValidationError) -> dict[str, str]:
    """Pydantic's complaints by field (`_form` for those about the whole form)."""
    errors: dict[str, str] = {}
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else "_form"
        errors.setdefault(name, str(error["msg"]).removeprefix("Value error, "))
    return errors


def _domain_errors(exc: DomainError) -> dict[str, str]:
    """Where a refusal shows: an unknown SKU, an unknown or retired warehouse next to its field,
    others on top."""
    message = exc.message
    if isinstance(exc, NotFound) or "unknown SKU" in message:
        return {"sku": message}
    if "unknown warehouse" in message or message.startswith("warehouse "):
        return {"warehouse": message}
    return {"_form": message}


async def _handle(
    request: Request,
    state: AppState,
    principal: Principal,
    web: Any,
    which: str,
    model: type[BaseModel],
    act: Callable[[Any], Any],
) -> Response:
    """Validate the posted form as `model`, run `act` on it; a refusal shows next to its field."""
    data = await _form(request)
    shown = {"which": which, **data}
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        return await _refused(request, state, principal, shown, _field_errors(exc), 422)
    try:
        done = await act(parsed)
    except DomainError as exc:
        status = 422 if isinstance(exc, Invalid | NotFound) else exc.status
        return await _refused(request, state, principal, shown, _domain_errors(exc), status)
    web.flash = done
    return redirect(request, "/stock", web)


async def _refused(
    request: Request,
    state: AppState,
    principal: Principal,
    form: dict[str, str],
    errors: dict[str, str],
    status_code: int,
) -> Response:
    def show() -> Response:
        with session_scope(state.read_engine) as session:
            return _show(
                request,
                session,
                state,
                principal,
                form=form,
                errors=errors,
                status_code=status_code,
            )

    return await asyncio.to_thread(show)


def _write(state: AppState, fn: Callable[[Session], str]) -> Any:
    """Run one stock change in its own transaction (rolled back when it refuses)."""

    def run() -> str:
        with session_scope(state.engine) as session:
            return fn(session)

    return asyncio.to_thread(run)


@router.post("/stock/receive", include_in_schema=False, dependencies=[CsrfChecked])
async def receive_page(
    request: Request,
    state: StateDep,
    principal: Annotated[Principal, require_page(Permission.STOCK_RECEIVE)],
    web: WebSessionDep,
) -> Response:
    """Goods received (the receive API's flow: backordered orders for the SKU resume)."""

    async def act(form: ReceiveForm) -> str:
        try:
            await order_flows.receive_stock(
                state,
                key=scoped_key("receipt", form.sku, form.op),
                sku=form.sku,
                qty=form.qty,
                warehouse=form.warehouse,
                location=form.location,
                note=form.reference,
                actor=principal.actor(Source.PAGE),
            )
        except inventory_service.UnknownSkuError as exc:
            raise NotFound(str(exc)) from exc
        except inventory_service.UnknownWarehouseError as exc:
            raise Invalid(str(exc)) from exc
        where = form.warehouse or state.settings.default_warehouse
        return f"Received {form.qty} x {form.sku} into {where}."

    return await _handle(request, state, principal, web, "receive", ReceiveForm, act)


@router.post("/stock/move", include_in_schema=False, dependencies=[CsrfChecked])
async def move_page(
    request: Request,
    state: StateDep,
    principal: Annotated[Principal, require_page(Permission.STOCK_RECEIVE)],
    web: WebSessionDep,
) -> Response:
    """Move stock to another warehouse, or to another bin of the same one."""

    def act(form: MoveForm) -> Any:
        def change(session: Session) -> str:
            stock_moves.move(
                session=session,
                key=scoped_key("move", form.sku, form.op),
                sku=form.sku,
                move_in=form,
                actor=principal.actor(Source.PAGE),
            )
            if form.from_warehouse == form.to_warehouse:
                return f"Moved {form.sku} in {form.from_warehouse} to bin {form.to_location}."
            route = f"from {form.from_warehouse} to {form.to_warehouse}"
            return f"Moved {form.qty} x {form.sku} {route}."

        return _write(state, change)

    return await _handle(request, state, principal, web, "move", MoveForm, act)


@router.post("/stock/adjust", include_in_schema=False, dependencies=[CsrfChecked])
async def adjust_page(
    request: Request,
    state: StateDep,
    principal: Annotated[Principal, require_page(Permission.STOCK_ADJUST)],
    web: WebSessionDep,
) -> Response:
    """Correct a balance with a reason."""

    def act(form: AdjustForm) -> Any:
        def change(session: Session) -> str:
            stock_moves.adjust(
                session=session,
                key=scoped_key("adjust", form.sku, form.op),
                sku=form.sku,
                adjust_in=form,
                actor=principal.actor(Source.PAGE),
            )
            change = f"by {form.qty:+d} ({form.reason.value})"
            return f"Adjusted {form.sku} in {form.warehouse} {change}."

        return _write(state, change)

    return await _handle(request, state, principal, web, "adjust", AdjustForm, act)


@router.post("/stock/reorder-level", include_in_schema=False, dependencies=[CsrfChecked])
async def reorder_level_page(
    request: Request,
    state: StateDep,
    principal: Annotated[Principal, require_page(Permission.STOCK_RECEIVE)],
    web: WebSessionDep,
) -> Response:
    """Set or clear a SKU's reorder level in a warehouse."""

    def act(form: ReorderForm) -> Any:
        def change(session: Session) -> str:
            stock_moves.set_reorder_level(
                session=session, sku=form.sku, level_in=form, actor=principal.actor(Source.PAGE)
            )
            level = form.reorder_level
            default = f"the default ({state.settings.low_stock_level})"
            shown = default if level is None else str(level)
            return f"Reorder level of {form.sku} in {form.warehouse}: {shown}."

        return _write(state, change)

    return await _handle(request, state, principal, web, "reorder", ReorderForm, act)
