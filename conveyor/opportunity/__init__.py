"""Opportunities: deals with a customer, their quotes, stages and the sales pipeline."""
