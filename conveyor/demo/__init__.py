"""Demo data for a first start: products, customers, employees."""
