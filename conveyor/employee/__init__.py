"""Employees, their roles and clearance, and attendance."""
