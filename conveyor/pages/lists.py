"""The staff lists: orders, customers, products, invoices and returns."""

from conveyor.pages.web import page_router

router = page_router()
