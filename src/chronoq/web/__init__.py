"""The web dashboard (Jinja and htmx, server-rendered): `create_dashboard(app)`."""

from chronoq.web.dashboard import create_dashboard
from chronoq.web.state import Redactor, default_redactor

__all__ = ["Redactor", "create_dashboard", "default_redactor"]
