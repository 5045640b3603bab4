"""Routing rules: YAML files that decide, per order and step, auto, task or skip and who does it."""
