"""Settings pages: prices, taxes, shipping and warehouses (one module each, mounted here)."""

from conveyor.pages import settings_prices, settings_rates, settings_warehouses
from conveyor.pages.web import page_router

router = page_router()
for _module in (settings_prices, settings_rates, settings_warehouses):
    router.include_router(_module.router)
