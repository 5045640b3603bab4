"""Cross-cutting plumbing: settings, database engine, Temporal client, security."""
