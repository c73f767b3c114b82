"""Connectors: chronoq's domain layer for outside platforms (HTTP search, scraping,
email). Built on the public API only (`import chronoq`), tested against local
servers that speak the real protocols."""
