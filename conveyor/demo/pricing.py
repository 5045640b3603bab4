"""Demo price agreements, tax rates and shipping rates, so demo orders show pricing at work."""

from decimal import Decimal

from sqlmodel import Session

from conveyor.audit.service import Actor
from conveyor.inventory import service as inventory_service
from conveyor.pricing import service as pricing_service
from conveyor.pricing.models import PriceAgreementCreate, ShippingRateCreate, TaxRateCreate

SEEDER = Actor.cli("demo seed")
ITEM_GROUPS = {
    "LAPTOP-14": "computers",
    "LAPTOP-16": "computers",
    "MON-27": "displays",
    "PRN-LASER": "printers",
    "DOCK-USB-C": "accessories",
    "KB-MECH": "accessories",
    "MOUSE-WL": "accessories",
    "CABLE-HDMI": "accessories",
    "CHAIR-ERGO": "furniture",
    "DESK-SIT": "furniture",
}
AGREEMENTS = [
    PriceAgreementCreate(
        name="Wholesale: computers -8 %",
        customer_group="wholesale",
        item_group="computers",
        discount_percent=Decimal("8"),
    ),
    PriceAgreementCreate(
        name="Wireless mouse 50+", sku="MOUSE-WL", min_qty=50, unit_price=Decimal("24.99")
    ),
    PriceAgreementCreate(
        name="B2B orders over 5,000: -3 %",
        scope="order",
        customer_group="b2b",
        min_amount=Decimal("5000"),
        discount_percent=Decimal("3"),
    ),
]
TAX_RATES = [
    TaxRateCreate(name="DE USt 19 %", tax_class="standard", country="DE", rate=Decimal("19")),
    TaxRateCreate(name="UK VAT 20 %", tax_class="standard", country="GB", rate=Decimal("20")),
]
SHIPPING_RATES = [
    ShippingRateCreate(name="Standard shipping", amount=Decimal("9.90"), free_from=Decimal("500")),
]


def seed_pricing(session: Session) -> None:
    """Item groups for the demo products, and the demo agreements and rates."""
    for sku, group in ITEM_GROUPS.items():
        product = inventory_service.get_by_sku(session=session, sku=sku)
        if product is not None:
            product.item_group = group
            session.add(product)
    for agreement in AGREEMENTS:
        pricing_service.create_agreement(session=session, agreement_in=agreement, actor=SEEDER)
    for rate in TAX_RATES:
        pricing_service.create_tax_rate(session=session, rate_in=rate, actor=SEEDER)
    for shipping in SHIPPING_RATES:
        pricing_service.create_shipping_rate(session=session, rate_in=shipping, actor=SEEDER)
    session.flush()
