"""Outreach campaigns: a domain layer on the engine (steps, schedule, pacing)."""
