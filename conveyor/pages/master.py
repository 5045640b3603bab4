"""Master data pages: customers, products, prices, taxes, shipping and warehouses."""

from conveyor.pages.web import page_router

router = page_router()
