"""CSV import of master data and opening stock: a dry run by line, then all rows or nothing."""
