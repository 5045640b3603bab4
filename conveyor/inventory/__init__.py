"""Products, stock balances and the stock ledger."""
