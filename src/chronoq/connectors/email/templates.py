"""Email templates: Jinja2 in a sandbox, compiled once, rendered per recipient.

Templates may come from campaign authors, not programmers, so they render in
`jinja2.sandbox.SandboxedEnvironment`: an unsafe attribute (`__class__`,
`__globals__`, a method that mutates) raises SecurityError instead of reaching
Python internals. Undefined variables are errors (StrictUndefined): a mail that
says "Hello ," is worse than one not sent. The HTML part is autoescaped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateError
from jinja2.sandbox import SandboxedEnvironment

_PLAIN = SandboxedEnvironment(
    undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True
)
_HTML = SandboxedEnvironment(undefined=StrictUndefined, autoescape=True, keep_trailing_newline=True)


class TemplateRefused(ValueError):
    """A template that does not compile or render (a syntax error, an undefined
    variable, an access the sandbox refuses); no retry fixes it."""


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str | None


def _compile(env: SandboxedEnvironment, source: str, part: str) -> Template:
    try:
        return env.from_string(source)
    except TemplateError as exc:
        raise TemplateRefused(f"{part} template does not compile: {exc}") from exc


@dataclass(frozen=True)
class EmailTemplate:
    """A subject, a plain text part and an optional HTML part, each a Jinja2
    template (compiled when made: a syntax error shows at import, not at send)."""

    subject: str
    text: str
    html: str | None = None
    _compiled: tuple[Template, Template, Template | None] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        compiled = (
            _compile(_PLAIN, self.subject, "subject"),
            _compile(_PLAIN, self.text, "text"),
            _compile(_HTML, self.html, "html") if self.html is not None else None,
        )
        object.__setattr__(self, "_compiled", compiled)

    def render(self, context: Mapping[str, Any]) -> Rendered:
        """The three parts for one recipient; TemplateRefused names the part."""
        subject, text, html = self._compiled
        values = dict(context)
        rendered_subject = _render(subject, values, "subject").strip()
        if "\r" in rendered_subject or "\n" in rendered_subject:
            raise TemplateRefused("subject renders to more than one line")
        return Rendered(
            rendered_subject,
            _render(text, values, "text"),
            _render(html, values, "html") if html is not None else None,
        )


def _render(template: Template, values: dict[str, Any], part: str) -> str:
    try:
        return template.render(values)
    except TemplateError as exc:  # SecurityError and UndefinedError are TemplateErrors
        raise TemplateRefused(f"{part} template refused: {type(exc).__name__}: {exc}") from exc
