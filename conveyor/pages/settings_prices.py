"""Settings: price agreements listed, created, edited and ended, and the price a customer gets."""

from datetime import date
from typing import Annotated, Any

from fastapi import Form, Query, Request
from fastapi.responses import Response

from api.deps import Principal, ReadSessionDep, SessionDep
from conveyor.audit.models import Source
from conveyor.auth.permissions import Permission
from conveyor.core.errors import DomainError, NotFound
from conveyor.core.models import utcnow
from conveyor.pages.form_page import FormPage, Refusal
from conveyor.pages.listing import PAGE_SIZE, Pager, offset
from conveyor.pages.settings_forms import FormField, form_values
from conveyor.pages.web import (
    CsrfChecked,
    WebSessionDep,
    page_refusal,
    page_router,
    render,
    require_page,
)
from conveyor.pricing import agreements as agreement_service
from conveyor.pricing import service as pricing_service
from conveyor.pricing.agreements import AgreementFilter, AgreementSort
from conveyor.pricing.models import (
    PriceAgreement,
    PriceAgreementCreate,
    PriceAgreementUpdate,
)

router = page_router()
BASE = "/settings/prices"
FIELDS = (
    FormField("name", "Name"),
    FormField(
        "scope",
        "Applies to",
        "select",
        options=(("line", "line price"), ("order", "whole order (discount %)")),
    ),
    FormField("priority", "Priority", "number", max_length=6, hint="higher wins"),
    FormField("sku", "SKU", max_length=64, nullable=True, hint="empty: every item"),
    FormField("item_group", "Item group", max_length=50, nullable=True),
    FormField(
        "customer_id",
        "Customer id",
        "number",
        max_length=12,
        nullable=True,
        hint="empty: every customer",
    ),
    FormField("customer_group", "Customer group", max_length=50, nullable=True),
    FormField("min_qty", "From quantity", "number", max_length=8),
    FormField("min_amount", "From order amount", "number", max_length=20, nullable=True),
    FormField("currency", "Currency", max_length=3),
    FormField("valid_from", "Valid from", "date", max_length=10, nullable=True),
    FormField("valid_to", "Valid to (last day)", "date", max_length=10, nullable=True),
    FormField("unit_price", "Fixed unit price", "number", max_length=20, nullable=True),
    FormField("discount_percent", "Discount %", "number", max_length=20, nullable=True),
    FormField("discount_amount", "Amount off", "number", max_length=20, nullable=True),
    FormField("active", "Active", "checkbox"),
)
STATES = {"": "all", "in_force": "in force today", "not_in_force": "not in force"}
NEW_DEFAULTS = {"scope": "line", "priority": "0", "min_qty": "1", "currency": "USD", "active": "on"}
FORM = FormPage(
    template="settings_price.html",
    section="settings",
    record_name="agreement",
    base=BASE,
    key="id",
    entity="price_agreement",
    fields=FIELDS,
    create_shape=PriceAgreementCreate,
    update_shape=PriceAgreementUpdate,
    manage=Permission.PRICES_MANAGE,
    drop_empty=True,
    extra=lambda _session, _agreement: {"today": utcnow().date()},
)


def _in_force(row: PriceAgreement, today: date) -> bool:
    """True when the agreement applies today."""
    starts, ends = row.valid_from, row.valid_to
    return row.active and (starts is None or starts <= today) and (ends is None or ends >= today)


def _int(text: str) -> int | None:
    return int(text) if text.strip().isdigit() and len(text.strip()) <= 12 else None


def _sort(text: str) -> tuple[AgreementSort, bool]:
    """`priority`, `-priority`, `name`...: the column and whether descending."""
    descending = text.startswith("-")
    try:
        return AgreementSort(text.lstrip("-")), descending
    except ValueError:
        return AgreementSort.PRIORITY, True


def _preview(session: SessionDep | ReadSessionDep, form: dict[str, str]) -> dict[str, Any]:
    """The pricing engine's answer for the preview form, or why there is none."""
    if not (form["p_customer"] or form["p_sku"]):
        return {}
    customer_id, qty = _int(form["p_customer"]), _int(form["p_qty"] or "1")
    if customer_id is None or qty is None or qty < 1 or qty > 1_000_000 or not form["p_sku"]:
        return {"error": "Give a customer id, a SKU and a quantity from 1 to 1,000,000."}
    try:
        on = date.fromisoformat(form["p_on"]) if form["p_on"] else utcnow().date()
    except ValueError:
        return {"error": "The date must be YYYY-MM-DD."}
    try:
        priced = agreement_service.preview(
            session=session, customer_id=customer_id, sku=form["p_sku"], qty=qty, on=on
        )
    except DomainError as exc:
        return {"error": exc.message}
    line = priced.lines[0]
    rule_id = line.price_rule.removeprefix("agreement ").split(":", 1)[0]
    return {"line": line, "priced": priced, "on": on, "rule_id": _int(rule_id)}


@router.get(BASE, include_in_schema=False)
def prices_page(
    request: Request,
    session: ReadSessionDep,
    principal: Annotated[Principal, require_page(Permission.PRICES_VIEW)],
    customer_id: Annotated[str, Query(max_length=12)] = "",
    customer_group: Annotated[str, Query(max_length=50)] = "",
    sku: Annotated[str, Query(max_length=64)] = "",
    state: Annotated[str, Query(max_length=16)] = "",
    sort: Annotated[str, Query(max_length=20)] = "-priority",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    p_customer: Annotated[str, Query(max_length=12)] = "",
    p_sku: Annotated[str, Query(max_length=64)] = "",
    p_qty: Annotated[str, Query(max_length=8)] = "",
    p_on: Annotated[str, Query(max_length=10)] = "",
) -> Response:
    """Price agreements, filtered, sorted and paginated, with a price preview (prices.view)."""
    today = utcnow().date()
    column, descending = _sort(sort)
    in_force = {"in_force": True, "not_in_force": False}.get(state)
    rows, count = agreement_service.list_filtered(
        session=session,
        where=AgreementFilter(
            sku=sku or None,
            customer_id=_int(customer_id),
            customer_group=customer_group or None,
            in_force=in_force,
        ),
        today=today,
        sort=column,
        descending=descending,
        limit=PAGE_SIZE,
        offset=offset(page),
    )
    filters = {"customer_id": customer_id, "customer_group": customer_group, "sku": sku}
    filters |= {"state": state, "sort": sort}
    preview_form = {"p_customer": p_customer, "p_sku": p_sku, "p_qty": p_qty, "p_on": p_on}
    context = {
        "page": "settings",
        "rows": rows,
        "in_force": {row.id: _in_force(row, today) for row in rows},
        "filters": filters,
        "states": STATES,
        "sorts": [s.value for s in AgreementSort],
        "paging": Pager(BASE, page, count, filters),
        "preview_form": preview_form,
        "preview": _preview(session, preview_form),
        "can_manage": principal.can(Permission.PRICES_MANAGE),
    }
    return render(request, "settings_prices.html", context, principal=principal)


@router.get(f"{BASE}/new", include_in_schema=False)
def new_price_page(
    request: Request,
    session: ReadSessionDep,
    principal: Annotated[Principal, require_page(Permission.PRICES_MANAGE)],
) -> Response:
    """The form for a new price agreement."""
    return FORM.show(request, principal, session, record=None, values=NEW_DEFAULTS)


@router.post(BASE, include_in_schema=False, dependencies=[CsrfChecked])
async def create_price(
    request: Request,
    session: SessionDep,
    web: WebSessionDep,
    principal: Annotated[Principal, require_page(Permission.PRICES_MANAGE)],
) -> Response:
    """Add a price agreement from the form; errors shown next to their fields."""

    def create(agreement_in: PriceAgreementCreate) -> PriceAgreement:
        agreement_service.check_customer(session=session, customer_id=agreement_in.customer_id)
        return pricing_service.create_agreement(
            session=session, agreement_in=agreement_in, actor=principal.actor(Source.PAGE)
        )

    return await FORM.create(
        request, session, web, principal, save=create, refused=Refusal.FORM,
        done=lambda agreement: f"Price agreement {agreement.id} added.",
    )  # fmt: skip


def _agreement(session: SessionDep | ReadSessionDep, agreement_id: int) -> PriceAgreement:
    agreement = agreement_service.get(session=session, agreement_id=agreement_id)
    if agreement is None:
        raise NotFound(f"There is no price agreement {agreement_id}.")
    return agreement


@router.get(f"{BASE}/{{agreement_id}}", include_in_schema=False)
def price_page(
    request: Request,
    agreement_id: int,
    session: ReadSessionDep,
    principal: Annotated[Principal, require_page(Permission.PRICES_VIEW)],
) -> Response:
    """One agreement: its form (editable with prices.manage), the end form and its history."""
    agreement = _agreement(session, agreement_id)
    values = form_values(agreement, FIELDS)
    return FORM.show(request, principal, session, record=agreement, values=values)


@router.post(f"{BASE}/{{agreement_id}}", include_in_schema=False, dependencies=[CsrfChecked])
async def update_price(
    request: Request,
    agreement_id: int,
    session: SessionDep,
    web: WebSessionDep,
    principal: Annotated[Principal, require_page(Permission.PRICES_MANAGE)],
) -> Response:
    """Save the edited agreement (checked as a new one is; overlaps refused)."""
    agreement = _agreement(session, agreement_id)
    return await FORM.update(
        request, session, web, principal, record=agreement,
        save=lambda changes: agreement_service.update(
            session=session, agreement=agreement, changes=changes,
            actor=principal.actor(Source.PAGE),
        ),
        done="Price agreement saved.", refused=Refusal.FORM,
    )  # fmt: skip


@router.post(f"{BASE}/{{agreement_id}}/end", include_in_schema=False, dependencies=[CsrfChecked])
def end_price(
    request: Request,
    agreement_id: int,
    session: SessionDep,
    web: WebSessionDep,
    principal: Annotated[Principal, require_page(Permission.PRICES_MANAGE)],
    valid_to: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """End the agreement on the date given (its last day; default today)."""
    agreement = _agreement(session, agreement_id)
    try:
        last_day = date.fromisoformat(valid_to) if valid_to else utcnow().date()
    except ValueError:
        return page_refusal(
            request,
            DomainError("the end date must be YYYY-MM-DD"),
            web=web,
            flash="Not ended",
            back=FORM.url(agreement),
        )
    return FORM.act(
        request, session, web, principal, record=agreement,
        action=lambda: agreement_service.end(
            session=session, agreement=agreement, last_day=last_day,
            actor=principal.actor(Source.PAGE),
        ),
        done=f"Price agreement ends on {last_day.isoformat()}.", refused="Not ended",
    )  # fmt: skip
