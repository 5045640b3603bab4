"""HTTP: JSON API, webhooks, pages and health, assembled into one FastAPI app."""
