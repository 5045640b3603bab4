"""Read models for the monitor and the reports: counts, durations, revenue, workload."""
