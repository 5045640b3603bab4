"""Operational metrics: the business gauges the worker exports beside Temporal's own."""
