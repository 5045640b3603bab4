"""Notifications: the e-mail outbox, its templates and the SMTP sender."""
