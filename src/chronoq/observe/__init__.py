"""Observe: history, events, metrics, health and alerts, as read models with a JSON
form that the CLI uses now and the HTTP API and dashboard next."""
