"""Connectors: chronoq tasks that speak an outside platform's real protocol.

The domain layer: built on chronoq's public API only (`import chronoq`), never on
its internals (import-linter keeps it so). `chronoq.connectors.email` sends mail
over SMTP with a per-recipient send ledger.
"""
