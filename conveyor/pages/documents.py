"""Documents and mail pages: pick lists, packing slips, quote PDFs and the outbox."""

from conveyor.pages.web import page_router

router = page_router()
