"""Customer-center ordering: catalogue, cart and checkout."""

from conveyor.pages.web import page_router

router = page_router()
