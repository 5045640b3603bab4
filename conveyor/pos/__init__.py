"""Counter sales (point of sale): cash drawers, paid-at-once sales, counter returns."""
