"""Connectors: chronoq's domain layer for outside platforms (email over SMTP with a
per-recipient send ledger, HTTP search, polite scraping). Built on the public API
only (`import chronoq`, import-linter keeps it so), tested against local servers
that speak the real protocols."""
