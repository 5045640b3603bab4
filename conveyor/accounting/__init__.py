"""Accounting integration: invoices, credit notes and payments as a journal for bookkeeping."""
