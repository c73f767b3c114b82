"""The web dashboard (Jinja and htmx, server-rendered)."""
