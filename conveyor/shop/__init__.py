"""Customer-center ordering: the cart, the catalogue a customer sees, checkout."""
