"""The audit log: every change by a person or an integration, with before and after."""
