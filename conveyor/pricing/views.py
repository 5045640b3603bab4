"""Pricing administration: price agreements, tax rates and shipping rates."""

from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Query, Response, status

from api.deps import (
    Principal,
    ReadSessionDep,
    SessionDep,
    require,
)
from conveyor.audit.models import Source
from conveyor.auth.permissions import Permission
from conveyor.core.errors import NotFound
from conveyor.core.models import utcnow
from conveyor.customer import service as customer_service
from conveyor.pricing import agreements as agreement_service
from conveyor.pricing import rates as rate_service
from conveyor.pricing import service as pricing_service
from conveyor.pricing.agreements import AgreementFilter, AgreementSort
from conveyor.pricing.models import (
    PriceAgreement,
    PriceAgreementCreate,
    PriceAgreementEnd,
    PriceAgreementPublic,
    PriceAgreementsPublic,
    PriceAgreementUpdate,
    ShippingRate,
    ShippingRateCreate,
    ShippingRatePublic,
    ShippingRateUpdate,
    TaxRate,
    TaxRateCreate,
    TaxRatePublic,
    TaxRateUpdate,
)

# Listings are paginated like GET /api/orders: `page` from 1, `page_size` at most this.
MAX_PAGE_SIZE = 200
TOTAL_COUNT = "X-Total-Count"  # the rate lists stay plain lists; the header gives the total

agreements_router = APIRouter()
tax_rates_router = APIRouter()
shipping_rates_router = APIRouter()


@agreements_router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=PriceAgreementPublic
)
def create_agreement(
    agreement_in: PriceAgreementCreate,
    session: SessionDep,
    principal: Annotated[Principal, require(Permission.PRICES_MANAGE)],
) -> PriceAgreementPublic:
    """Add a price list entry, trade agreement or order discount (admin)."""
    if agreement_in.customer_id is not None and (
        customer_service.get(session=session, customer_id=agreement_in.customer_id) is None
    ):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"unknown customer {agreement_in.customer_id}"
        )
    agreement = pricing_service.create_agreement(
        session=session, agreement_in=agreement_in, actor=principal.actor(Source.API)
    )
    return PriceAgreementPublic.model_validate(agreement)


@agreements_router.get("", response_model=PriceAgreementsPublic)
def list_agreements(
    session: ReadSessionDep,
    _: Annotated[Principal, require(Permission.PRICES_VIEW)],
    sku: Annotated[str | None, Query(max_length=64)] = None,
    customer_id: int | None = None,
    customer_group: Annotated[str | None, Query(max_length=50)] = None,
    in_force: bool | None = None,
    sort: AgreementSort = AgreementSort.PRIORITY,
    descending: bool = True,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
) -> PriceAgreementsPublic:
    """Agreements, highest priority first (or by `sort`, `descending`), one page (`page`,
    `page_size` up to 200; `count` says how many match in all); filter by `sku`,
    `customer_id`, `customer_group`, `in_force` (true: applies today; false: ended, not yet
    started or switched off)."""
    rows, count = agreement_service.list_filtered(
        session=session,
        where=AgreementFilter(
            sku=sku, customer_id=customer_id, customer_group=customer_group, in_force=in_force
        ),
        today=utcnow().date(),
        sort=sort,
        descending=descending,
        limit=page_size,
        offset=(page - 1) * page_size,
    )
    return PriceAgreementsPublic(
        data=[PriceAgreementPublic.model_validate(r) for r in rows],
        count=count,
        page=page,
        page_size=page_size,
    )


def _agreement(session: SessionDep, agreement_id: int) -> PriceAgreement:
    agreement = agreement_service.get(session=session, agreement_id=agreement_id)
    if agreement is None:
        raise NotFound(f"unknown price agreement {agreement_id}")
    return agreement


@agreements_router.patch("/{agreement_id}", response_model=PriceAgreementPublic)
def update_agreement(
    agreement_id: int,
    changes: PriceAgreementUpdate,
    session: SessionDep,
    principal: Annotated[Principal, require(Permission.PRICES_MANAGE)],
) -> PriceAgreementPublic:
    """Change an agreement in place: the fields sent (null clears one), checked as a new
    agreement is (422), and refused (409) when it would overlap an alike agreement."""
    agreement = agreement_service.update(
        session=session,
        agreement=_agreement(session, agreement_id),
        changes=changes,
        actor=principal.actor(Source.API),
    )
    return PriceAgreementPublic.model_validate(agreement)


@agreements_router.post("/{agreement_id}/end", response_model=PriceAgreementPublic)
def end_agreement(
    agreement_id: int,
    session: SessionDep,
    principal: Annotated[Principal, require(Permission.PRICES_MANAGE)],
    body: Annotated[PriceAgreementEnd | None, Body()] = None,
) -> PriceAgreementPublic:
    """End an agreement: `valid_to` (default today) is the last day it applies. It stays on
    record; an end before its start is refused (422), a later end than it has already (409)."""
    last_day = (body.valid_to if body else None) or utcnow().date()
    agreement = agreement_service.end(
        session=session,
        agreement=_agreement(session, agreement_id),
        last_day=last_day,
        actor=principal.actor(Source.API),
    )
    return PriceAgreementPublic.model_validate(agreement)


@tax_rates_router.post("", status_code=status.HTTP_201_CREATED, response_model=TaxRatePublic)
def create_tax_rate(
    rate_in: TaxRateCreate,
    session: SessionDep,
    principal: Annotated[Principal, require(Permission.PRICES_MANAGE)],
) -> TaxRatePublic:
    """Add a tax rate for a tax class and destination country ("*" = any) (admin)."""
    return TaxRatePublic.model_validate(
        pricing_service.create_tax_rate(
            session=session, rate_in=rate_in, actor=principal.actor(Source.API)
        )
    )


@tax_rates_router.get("", response_model=list[TaxRatePublic])
def list_tax_rates(
    session: ReadSessionDep,
    _: Annotated[Principal, require(Permission.PRICES_VIEW)],
    response: Response,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = MAX_PAGE_SIZE,
    retired: bool | None = None,
) -> list[TaxRatePublic]:
    """Tax rates, one page (`page`, `page_size` up to 200); `X-Total-Count` says how many;
    `retired` true/false: only the retired ones, or only those in force."""
    rows, count = pricing_service.page_tax_rates(
        session=session, limit=page_size, offset=(page - 1) * page_size, retired=retired
    )
    response.headers[TOTAL_COUNT] = str(count)
    return [TaxRatePublic.model_validate(r) for r in rows]


@shipping_rates_router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=ShippingRatePublic
)
def create_shipping_rate(
    rate_in: ShippingRateCreate,
    session: SessionDep,
    principal: Annotated[Principal, require(Permission.PRICES_MANAGE)],
) -> ShippingRatePublic:
    """Add a shipping rate (by destination country and customer group, free from an amount)."""
    return ShippingRatePublic.model_validate(
        pricing_service.create_shipping_rate(
            session=session, rate_in=rate_in, actor=principal.actor(Source.API)
        )
    )


@shipping_rates_router.get("", response_model=list[ShippingRatePublic])
def list_shipping_rates(
    session: ReadSessionDep,
    _: Annotated[Principal, require(Permission.PRICES_VIEW)],
    response: Response,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = MAX_PAGE_SIZE,
    retired: bool | None = None,
) -> list[ShippingRatePublic]:
    """Shipping rates, one page (`page`, `page_size` up to 200); `X-Total-Count` says how many;
    `retired` as for tax rates."""
    rows, count = pricing_service.page_shipping_rates(
        session=session, limit=page_size, offset=(page - 1) * page_size, retired=retired
    )
    response.headers[TOTAL_COUNT] = str(count)
    return [ShippingRatePublic.model_validate(r) for r in rows]


def _tax_rate(session: SessionDep, rate_id: int) -> TaxRate:
    rate = rate_service.get_tax_rate(session=session, rate_id=rate_id)
    if rate is None:
        raise NotFound(f"unknown tax rate {rate_id}")
    return rate


def _shipping_rate(session: SessionDep, rate_id: int) -> ShippingRate:
    rate = rate_service.get_shipping_rate(session=session, rate_id=rate_id)
    if rate is None:
        raise NotFound(f"unknown shipping rate {rate_id}")
    return rate


@tax_rates_router.patch("/{rate_id}", response_model=TaxRatePublic)
def update_tax_rate(
    rate_id: int,
    changes: TaxRateUpdate,
    session: SessionDep,
    principal: Annotated[Principal, require(Permission.PRICES_MANAGE)],
) -> TaxRatePublic:
    """Change a tax rate in force (the fields sent), checked as a new rate is; 409 if retired."""
    rate = rate_service.update_tax_rate(
        session=session,
        rate=_tax_rate(session, rate_id),
        changes=changes,
        actor=principal.actor(Source.API),
    )
    return TaxRatePublic.model_validate(rate)


@tax_rates_router.post("/{rate_id}/retire", response_model=TaxRatePublic)
def retire_tax_rate(
    rate_id: int,
    session: SessionDep,
    principal: Annotated[Principal, require(Permission.PRICES_MANAGE)],
) -> TaxRatePublic:
    """Retire a tax rate: new orders are no longer taxed by it (409 when already retired)."""
    rate = rate_service.retire(
        session=session, rate=_tax_rate(session, rate_id), actor=principal.actor(Source.API)
    )
    return TaxRatePublic.model_validate(rate)


@shipping_rates_router.patch("/{rate_id}", response_model=ShippingRatePublic)
def update_shipping_rate(
    rate_id: int,
    changes: ShippingRateUpdate,
    session: SessionDep,
    principal: Annotated[Principal, require(Permission.PRICES_MANAGE)],
) -> ShippingRatePublic:
    """Change a shipping rate in force (the fields sent), checked as a new rate is."""
    rate = rate_service.update_shipping_rate(
        session=session,
        rate=_shipping_rate(session, rate_id),
        changes=changes,
        actor=principal.actor(Source.API),
    )
    return ShippingRatePublic.model_validate(rate)


@shipping_rates_router.post("/{rate_id}/retire", response_model=ShippingRatePublic)
def retire_shipping_rate(
    rate_id: int,
    session: SessionDep,
    principal: Annotated[Principal, require(Permission.PRICES_MANAGE)],
) -> ShippingRatePublic:
    """Retire a shipping rate: new orders no longer get it (409 when already retired)."""
    rate = rate_service.retire(
        session=session, rate=_shipping_rate(session, rate_id), actor=principal.actor(Source.API)
    )
    return ShippingRatePublic.model_validate(rate)
