"""Sales orders, their lines and their processing trail."""
