"""Stock pages: levels per SKU and warehouse, receiving, moves and adjustments."""

from conveyor.pages.web import page_router

router = page_router()
