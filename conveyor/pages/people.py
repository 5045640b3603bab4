"""Settings > People: employees, their roles, passwords and tokens."""

from conveyor.pages.web import page_router

router = page_router()
