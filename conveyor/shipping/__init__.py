"""Shipments: what left the warehouse (or a supplier) for an order, its tracking and delivery."""
