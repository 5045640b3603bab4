"""Signed webhooks from the online store (Shopify, WooCommerce) and the payments (Stripe)."""
