"""Server-rendered pages: sign-in, inbox, monitor, order page, customer center, rules, reports."""
