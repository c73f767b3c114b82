"""`--app tests.cli.campaign_app:app`: campaigns installed with the shells' step
tasks (the names the CLI's specs refer to; the tests' own app runs them)."""

from __future__ import annotations

from chronoq import App
from tests.campaign_shell_app import add_campaign_tasks

app = App("cli-campaigns")
add_campaign_tasks(app, "redis://127.0.0.1:6379/0", "cli-campaign-app")  # never run here
