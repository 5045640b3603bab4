"""Every side effect of an order's workflow, grouped by what it touches; each is idempotent."""
