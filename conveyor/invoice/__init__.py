"""Invoices and the payments collected against them."""
