"""Conveyor: sales-order fulfillment as durable Temporal workflows (everything but the edges)."""
