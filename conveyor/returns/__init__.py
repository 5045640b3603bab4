"""Returns (F18): return authorisations, receipt (restock or scrap), credit note and refund."""
