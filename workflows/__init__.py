"""Deterministic orchestration: one workflow per module."""
