"""Backups of the embedded default: the business SQLite database and Temporal's, together."""
