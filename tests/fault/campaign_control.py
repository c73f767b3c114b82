"""Pause or resume a campaign from a process of its own, as an operator would:
`python -m tests.fault.campaign_control pause|resume <name> <redis_url> <prefix>`.
Prints the campaign's state after the move."""

from __future__ import annotations

import sys

from chronoq import App
from chronoq.campaigns import campaigns


def main(action: str, name: str, redis_url: str, prefix: str) -> None:
    app = App("cmp-operator", redis_url=redis_url, prefix=prefix)
    with campaigns(app) as c:
        view = c.pause(name, "operator") if action == "pause" else c.resume(name)
    print(view.state.value)


if __name__ == "__main__":
    main(*sys.argv[1:5])
