"""Order and quote entry for staff."""

from conveyor.pages.web import page_router

router = page_router()
