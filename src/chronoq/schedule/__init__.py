"""Schedules: when recurring work is due (pure specs), then where it lives and who fires it."""
