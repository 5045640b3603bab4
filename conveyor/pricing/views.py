"""Pricing administration: price agreements, tax rates and shipping rates."""

from fastapi import APIRouter, HTTPException, status

from api.deps import AdminPrincipal, CurrentPrincipal, ReadSessionDep, SessionDep
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

agreements_router = APIRouter()
tax_rates_router = APIRouter()
shipping_rates_router = APIRouter()


@agreements_router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=PriceAgreementPublic
)
def create_agreement(
    agreement_in: PriceAgreementCreate, session: SessionDep, _: AdminPrincipal
) -> PriceAgreementPublic:
    """Add a price list entry, trade agreement or order discount (admin)."""
    if agreement_in.customer_id is not None and (
        customer_service.get(session=session, customer_id=agreement_in.customer_id) is None
    ):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"unknown customer {agreement_in.customer_id}"
        )
    agreement = pricing_service.create_agreement(session=session, agreement_in=agreement_in)
    return PriceAgreementPublic.model_validate(agreement)


@agreements_router.get("", response_model=PriceAgreementsPublic)
def list_agreements(
    session: ReadSessionDep,
    _: CurrentPrincipal,
    sku: str | None = None,
    customer_id: int | None = None,
) -> PriceAgreementsPublic:
    """Agreements, highest priority first; filter by `sku` or `customer_id`."""
    rows = pricing_service.list_agreements(session=session, sku=sku, customer_id=customer_id)
    return PriceAgreementsPublic(
        data=[PriceAgreementPublic.model_validate(r) for r in rows], count=len(rows)
    )


@tax_rates_router.post("", status_code=status.HTTP_201_CREATED, response_model=TaxRatePublic)
def create_tax_rate(
    rate_in: TaxRateCreate, session: SessionDep, _: AdminPrincipal
) -> TaxRatePublic:
    """Add a tax rate for a tax class and destination country ("*" = any) (admin)."""
    return TaxRatePublic.model_validate(
        pricing_service.create_tax_rate(session=session, rate_in=rate_in)
    )


@tax_rates_router.get("", response_model=list[TaxRatePublic])
def list_tax_rates(session: ReadSessionDep, _: CurrentPrincipal) -> list[TaxRatePublic]:
    """All tax rates."""
    return [
        TaxRatePublic.model_validate(r) for r in pricing_service.list_tax_rates(session=session)
    ]


@shipping_rates_router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=ShippingRatePublic
)
def create_shipping_rate(
    rate_in: ShippingRateCreate, session: SessionDep, _: AdminPrincipal
) -> ShippingRatePublic:
    """Add a shipping rate (by destination country and customer group, free from an amount)."""
    return ShippingRatePublic.model_validate(
        pricing_service.create_shipping_rate(session=session, rate_in=rate_in)
    )


@shipping_rates_router.get("", response_model=list[ShippingRatePublic])
def list_shipping_rates(session: ReadSessionDep, _: CurrentPrincipal) -> list[ShippingRatePublic]:
    """All shipping rates."""
    return [
        ShippingRatePublic.model_validate(r)
        for r in pricing_service.list_shipping_rates(session=session)
    ]
