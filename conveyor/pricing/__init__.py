"""Pricing: price agreements, order discounts, taxes and shipping rates."""
