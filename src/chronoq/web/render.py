"""Templates and the small formatting filters they use. Autoescaped: every value
from Redis (job arguments, errors, names) is text, never markup."""

from __future__ import annotations

import json
import shlex
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from chronoq.web import charts
from chronoq.web.auth import base_of

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


def ago(moment: datetime | float | None, now: float | None = None) -> str:
    """'3 s ago', '5 min ago', 'in 2 h'."""
    if moment is None:
        return "-"
    at = moment.timestamp() if isinstance(moment, datetime) else float(moment)
    delta = (time.time() if now is None else now) - at
    text = seconds(abs(delta))
    return f"{text} ago" if delta >= 0 else f"in {text}"


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 120:
        return f"{value:.1f} s" if value < 10 else f"{value:.0f} s"
    if value < 7200:
        return f"{value / 60:.0f} min"
    if value < 172800:
        return f"{value / 3600:.1f} h"
    return f"{value / 86400:.1f} d"


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z") if moment else "-"


def when_iso(value: str | None) -> str:
    """An ISO 8601 moment of a read model's JSON form, shown like `when`."""
    return when(datetime.fromisoformat(value)) if value else "-"


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f} %"


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def cli_line(task: str, args: list[Any], kwargs: dict[str, Any], queue: str) -> str:
    """The `chronoq enqueue` command that makes the same job again."""
    parts = ["chronoq", "enqueue", task]
    if args:
        parts += ["--args", json.dumps(args, default=str)]
    if kwargs:
        parts += ["--kwargs", json.dumps(kwargs, default=str)]
    parts += ["--queue", queue]
    return " ".join(shlex.quote(p) for p in parts)


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(("html", "svg")),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(ago=ago, seconds=seconds, when=when, percent=percent,
                       pretty_json=pretty_json, when_iso=when_iso)  # fmt: skip
    env.globals.update(sparkline=charts.sparkline, line_chart=charts.line_chart)
    return env


ENV = environment()


def render_fragment(base: str, name: str, **context: Any) -> str:
    """A fragment for the live updates (shared by every tab: no viewer in it)."""
    return ENV.get_template(name).render(base=base, **context)


def page(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A whole page (or, for an htmx request naming a fragment, just that)."""
    viewer = getattr(request.state, "viewer", None)
    shared = {
        "base": base_of(request),
        "viewer": viewer,
        "csrf": viewer.session.csrf if viewer is not None else "",
        "request": request,
    }
    return HTMLResponse(ENV.get_template(name).render(**shared, **context), status_code)


def back(request: Request, path: str) -> Response:
    """After an action: to `path` (under the mount) for a plain form (303); an htmx
    request (a live fragment's button) reloads the page it came from."""
    if request.headers.get("hx-request"):
        return Response(status_code=200, headers={"HX-Refresh": "true"})
    return RedirectResponse(base_of(request) + path, status_code=303)
