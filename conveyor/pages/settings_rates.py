"""Settings: tax rates and shipping rates listed, created, edited and retired (one set of pages
for both kinds, told apart by a RateKind)."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import Response
from sqlmodel import Session, SQLModel

from api.deps import Principal, ReadSessionDep, SessionDep
from conveyor.audit.models import Source
from conveyor.auth.permissions import Permission
from conveyor.core.errors import NotFound
from conveyor.pages.form_page import FormPage
from conveyor.pages.listing import PAGE_SIZE, Pager, offset
from conveyor.pages.settings_forms import FormField, form_values
from conveyor.pages.web import CsrfChecked, WebSessionDep, page_router, render, require_page
from conveyor.pricing import rates as rate_service
from conveyor.pricing import service as pricing_service
from conveyor.pricing.models import (
    ShippingRateCreate,
    ShippingRateUpdate,
    TaxRateCreate,
    TaxRateUpdate,
)

router = page_router()
COUNTRY_HINT = "two letters (DE), or * for any"


@dataclass(frozen=True)
class RateKind:
    """One kind of rate as the pages handle it: where, what it is called, how it is stored."""

    slug: str  # the URL part: /settings/<slug>
    title: str
    noun: str
    entity: str  # the audit entity
    fields: tuple[FormField, ...]
    columns: tuple[str, ...]  # the fields the list shows
    create_shape: type[SQLModel]
    update_shape: type[SQLModel]
    create: Callable[..., Any]
    update: Callable[..., Any]
    get: Callable[..., Any]
    listing: Callable[..., tuple[list[Any], int]]
    defaults: dict[str, str]


TAXES = RateKind(
    slug="taxes",
    title="Tax rates",
    noun="tax rate",
    entity="tax_rate",
    fields=(
        FormField("name", "Name", max_length=100),
        FormField("tax_class", "Tax class", max_length=32, hint="as products name it"),
        FormField("country", "Destination country", max_length=2, hint=COUNTRY_HINT),
        FormField("rate", "Rate %", "number", max_length=12),
    ),
    columns=("name", "tax_class", "country", "rate"),
    create_shape=TaxRateCreate,
    update_shape=TaxRateUpdate,
    create=lambda session, body, actor: pricing_service.create_tax_rate(
        session=session, rate_in=body, actor=actor
    ),
    update=lambda session, row, body, actor: rate_service.update_tax_rate(
        session=session, rate=row, changes=body, actor=actor
    ),
    get=lambda session, rate_id: rate_service.get_tax_rate(session=session, rate_id=rate_id),
    listing=pricing_service.page_tax_rates,
    defaults={"tax_class": "standard", "country": "*"},
)
SHIPPING = RateKind(
    slug="shipping",
    title="Shipping rates",
    noun="shipping rate",
    entity="shipping_rate",
    fields=(
        FormField("name", "Name", max_length=100),
        FormField("country", "Destination country", max_length=2, hint=COUNTRY_HINT),
        FormField("customer_group", "Customer group", max_length=50, nullable=True),
        FormField("currency", "Currency", max_length=3),
        FormField("amount", "Amount", "number", max_length=20),
        FormField("free_from", "Free from goods worth", "number", max_length=20, nullable=True),
        FormField("tax_class", "Tax class", max_length=32),
        FormField("priority", "Priority", "number", max_length=6, hint="higher wins"),
    ),
    columns=("name", "country", "customer_group", "amount", "free_from", "priority"),
    create_shape=ShippingRateCreate,
    update_shape=ShippingRateUpdate,
    create=lambda session, body, actor: pricing_service.create_shipping_rate(
        session=session, rate_in=body, actor=actor
    ),
    update=lambda session, row, body, actor: rate_service.update_shipping_rate(
        session=session, rate=row, changes=body, actor=actor
    ),
    get=lambda session, rate_id: rate_service.get_shipping_rate(session=session, rate_id=rate_id),
    listing=pricing_service.page_shipping_rates,
    defaults={"name": "Shipping", "country": "*", "currency": "USD", "tax_class": "standard"}
    | {"priority": "0"},
)


def _row(kind: RateKind, session: Session, rate_id: int) -> Any:
    row = kind.get(session, rate_id)
    if row is None:
        raise NotFound(f"There is no {kind.noun} {rate_id}.")
    return row


def _form(kind: RateKind) -> FormPage:
    """The form page of one kind of rate (the template tells the kinds apart by `kind`)."""
    return FormPage(
        template="settings_rate.html",
        section="settings",
        record_name="row",
        base=f"/settings/{kind.slug}",
        key="id",
        entity=kind.entity,
        fields=kind.fields,
        create_shape=kind.create_shape,
        update_shape=kind.update_shape,
        manage=Permission.PRICES_MANAGE,
        drop_empty=True,
        extra=lambda _session, _row: {"kind": kind},
    )


def _add_routes(kind: RateKind) -> None:
    """The list, new, create, edit, save and retire routes of one kind of rate."""
    base = f"/settings/{kind.slug}"
    form = _form(kind)

    @router.get(base, include_in_schema=False, name=f"{kind.slug}_page")
    def rates_page(
        request: Request,
        session: ReadSessionDep,
        principal: Annotated[Principal, require_page(Permission.PRICES_VIEW)],
        retired: Annotated[str, Query(max_length=3)] = "",
        page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    ) -> Response:
        """The rates in force (or, with `retired=yes`, the retired ones), paginated."""
        rows, count = kind.listing(
            session=session, limit=PAGE_SIZE, offset=offset(page), retired=retired == "yes"
        )
        context = {
            "page": "settings",
            "kind": kind,
            "rows": rows,
            "retired": retired == "yes",
            "paging": Pager(base, page, count, {"retired": retired}),
            "can_manage": principal.can(Permission.PRICES_MANAGE),
        }
        return render(request, "settings_rates.html", context, principal=principal)

    @router.get(f"{base}/new", include_in_schema=False, name=f"{kind.slug}_new")
    def new_rate_page(
        request: Request,
        session: ReadSessionDep,
        principal: Annotated[Principal, require_page(Permission.PRICES_MANAGE)],
    ) -> Response:
        """The form for a new rate."""
        return form.show(request, principal, session, record=None, values=kind.defaults)

    @router.post(base, include_in_schema=False, dependencies=[CsrfChecked], name=kind.slug)
    async def create_rate(
        request: Request,
        session: SessionDep,
        web: WebSessionDep,
        principal: Annotated[Principal, require_page(Permission.PRICES_MANAGE)],
    ) -> Response:
        """Add a rate from the form; errors shown next to their fields."""
        return await form.create(
            request, session, web, principal,
            save=lambda body: kind.create(session, body, principal.actor(Source.PAGE)),
            done=lambda _row: f"{kind.noun.capitalize()} added.",
        )  # fmt: skip

    @router.get(f"{base}/{{rate_id}}", include_in_schema=False, name=f"{kind.slug}_one")
    def rate_page(
        request: Request,
        rate_id: int,
        session: ReadSessionDep,
        principal: Annotated[Principal, require_page(Permission.PRICES_VIEW)],
    ) -> Response:
        """One rate: its form (editable with prices.manage while in force) and its history."""
        row = _row(kind, session, rate_id)
        values = form_values(row, kind.fields)
        return form.show(request, principal, session, record=row, values=values)

    @router.post(
        f"{base}/{{rate_id}}", include_in_schema=False, dependencies=[CsrfChecked],
        name=f"{kind.slug}_save",
    )  # fmt: skip
    async def update_rate(
        request: Request,
        rate_id: int,
        session: SessionDep,
        web: WebSessionDep,
        principal: Annotated[Principal, require_page(Permission.PRICES_MANAGE)],
    ) -> Response:
        """Save the edited rate (checked as a new one is)."""
        row = _row(kind, session, rate_id)
        return await form.update(
            request, session, web, principal, record=row,
            save=lambda changes: kind.update(session, row, changes, principal.actor(Source.PAGE)),
            done=f"{kind.noun.capitalize()} saved.",
        )  # fmt: skip

    @router.post(
        f"{base}/{{rate_id}}/retire", include_in_schema=False, dependencies=[CsrfChecked],
        name=f"{kind.slug}_retire",
    )  # fmt: skip
    def retire_rate(
        request: Request,
        rate_id: int,
        session: SessionDep,
        web: WebSessionDep,
        principal: Annotated[Principal, require_page(Permission.PRICES_MANAGE)],
    ) -> Response:
        """Retire the rate: it prices no more orders."""
        row = _row(kind, session, rate_id)
        return form.act(
            request, session, web, principal, record=row,
            action=lambda: rate_service.retire(
                session=session, rate=row, actor=principal.actor(Source.PAGE)
            ),
            done=f"{kind.noun.capitalize()} retired.", refused="Not retired",
        )  # fmt: skip


for _kind in (TAXES, SHIPPING):
    _add_routes(_kind)
