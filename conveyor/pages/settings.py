"""Settings pages: prices, taxes, shipping and warehouses."""

from conveyor.pages.web import page_router

router = page_router()
