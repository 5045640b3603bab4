"""Pricing administration: price agreements, tax rates and shipping rates."""

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response, status

from api.deps import (
    Principal,
    ReadSessionDep,
    SessionDep,
    require,
)
from conveyor.audit.models import Source
from conveyor.auth.permissions import Permission
from conveyor.customer import service as customer_service
from conveyor.pricing import service as pricing_service
from conveyor.pricing.models import (
    PriceAgreementCreate,
    PriceAgreementPublic,
    PriceAgreementsPublic,
    ShippingRateCreate,
    ShippingRatePublic,
    TaxRateCreate,
    TaxRatePublic,
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
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
) -> PriceAgreementsPublic:
    """Agreements, highest priority first, one page (`page`, `page_size` up to 200; `count`
    says how many match in all); filter by `sku` or `customer_id`."""
    rows, count = pricing_service.list_agreements(
        session=session,
        sku=sku,
        customer_id=customer_id,
        limit=page_size,
        offset=(page - 1) * page_size,
    )
    return PriceAgreementsPublic(
        data=[PriceAgreementPublic.model_validate(r) for r in rows],
        count=count,
        page=page,
        page_size=page_size,
    )


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
) -> list[TaxRatePublic]:
    """Tax rates, one page (`page`, `page_size` up to 200); `X-Total-Count` says how many."""
    rows, count = pricing_service.page_tax_rates(
        session=session, limit=page_size, offset=(page - 1) * page_size
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
) -> list[ShippingRatePublic]:
    """Shipping rates, one page (`page`, `page_size` up to 200); `X-Total-Count` says how many."""
    rows, count = pricing_service.page_shipping_rates(
        session=session, limit=page_size, offset=(page - 1) * page_size
    )
    response.headers[TOTAL_COUNT] = str(count)
    return [ShippingRatePublic.model_validate(r) for r in rows]
