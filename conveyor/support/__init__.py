"""Order support messages (customer ↔ staff) and order activities (notes, calls, deliveries)."""
