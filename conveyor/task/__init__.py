"""Human tasks: one per order step routed to a person."""
