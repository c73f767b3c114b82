from tests.connectors.http.server import platform

__all__ = ["platform"]
