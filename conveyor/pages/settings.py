"""Settings pages: the start page, and prices, taxes, shipping and warehouses (a module each)."""

from typing import Annotated

from fastapi import Request
from fastapi.responses import Response

from api.deps import Principal
from conveyor.auth.permissions import Permission
from conveyor.pages import (
    settings_prices,
    settings_rates,
    settings_terms,
    settings_warehouses,
    settings_webhooks,
)
from conveyor.pages.web import page_router, render, require_page

router = page_router()
for _module in (
    settings_prices,
    settings_rates,
    settings_terms,
    settings_warehouses,
    settings_webhooks,
):
    router.include_router(_module.router)

# (address, name, what it holds, who may open it)
SECTIONS = (
    (
        "/settings/prices",
        "Prices",
        "price agreements by item, group and customer",
        Permission.PRICES_VIEW,
    ),
    ("/settings/taxes", "Taxes", "tax rates per class and country", Permission.PRICES_VIEW),
    ("/settings/shipping", "Shipping", "shipping rates", Permission.PRICES_VIEW),
    (
        "/settings/payment-terms",
        "Payment terms",
        "terms templates: net days, early-payment discount, deposit",
        Permission.CUSTOMERS_VIEW,
    ),
    (
        "/settings/warehouses",
        "Warehouses",
        "warehouses, their addresses and staging",
        Permission.STOCK_VIEW,
    ),
    (
        "/settings/people",
        "People",
        "employees, roles, passwords and tokens",
        Permission.EMPLOYEES_MANAGE,
    ),
    (
        "/settings/webhooks",
        "Webhooks",
        "other systems told of orders, invoices and payments; delivery log",
        Permission.WEBHOOKS_MANAGE,
    ),
)


@router.get("/settings", include_in_schema=False)
def settings_home(
    request: Request, principal: Annotated[Principal, require_page(Permission.PRICES_VIEW)]
) -> Response:
    """Links to the settings pages this person may open."""
    sections = [(href, name, what) for href, name, what, needs in SECTIONS if principal.can(needs)]
    context = {"sections": sections, "page": "settings"}
    return render(request, "settings_home.html", context, principal=principal)
