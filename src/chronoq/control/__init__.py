"""Coordination across workers: locks, job gates, rate limits, quotas."""
