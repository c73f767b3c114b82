"""The registry of scraped sources: where each lives, how often it is scraped
(its priority), and how politely (its limits), mapped onto chronoq's own pieces:

- a source's priority is a schedule: high every 2 hours, regular every 12 hours
  (or `every=` / a cron `spec=` of its own), calling the user's scrape task with
  `source=<name>`;
- its limits are one chronoq rate limit named `source:<name>`: requests per hour,
  a burst, a minimum delay between requests (raised at runtime to a robots.txt
  Crawl-delay), and respectful hours in the source's zone, as windows with their
  own rule ("forbid", or a slower rate like "10/h").

The scrape task names that limit by template, so each source has its own budget:
`@app.task(rate_limit="source:{source}")`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from chronoq import App, ConfigurationError, Limit, Period, ScheduleDef, Task, WindowRate


class Priority(enum.StrEnum):
    HIGH = "high"
    REGULAR = "regular"


DEFAULT_EVERY = {Priority.HIGH: "2h", Priority.REGULAR: "12h"}
LIMIT_PREFIX = "source:"


@dataclass(frozen=True, slots=True)
class Source:
    """One scraped site. `respectful_hours` maps windows in `tz` (like
    "mon-fri 09:00-18:00") to "forbid" or a slower rate ("10/h")."""

    name: str
    base_url: str
    priority: Priority = Priority.REGULAR
    requests_per_hour: int = 60
    burst: int = 0
    min_delay: float = 0.0
    tz: str = "UTC"
    respectful_hours: Mapping[str, str] = field(default_factory=dict)
    every: str | None = None  # overrides the priority's interval ("30m", "1d")
    spec: str | None = None  # or a cron spec, in `tz`

    def __post_init__(self) -> None:
        object.__setattr__(self, "priority", Priority(self.priority))
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigurationError(
                f"source {self.name!r}: base_url must be an http(s) URL, got {self.base_url!r}"
            )
        if self.requests_per_hour < 1:
            raise ConfigurationError(f"source {self.name!r}: requests_per_hour must be >= 1")
        if self.every is not None and self.spec is not None:
            raise ConfigurationError(f"source {self.name!r}: give every= or spec=, not both")
        self.limit()  # checks the name, windows and zone now

    @property
    def limit_name(self) -> str:
        return LIMIT_PREFIX + self.name

    @property
    def schedule_spec(self) -> str:
        if self.spec is not None:
            return self.spec
        return f"@every {self.every or DEFAULT_EVERY[self.priority]}"

    def limit(self) -> Limit:
        """This source's politeness as a chronoq rate limit."""
        rates = tuple(WindowRate.parse(w, rule) for w, rule in self.respectful_hours.items())
        return Limit(self.limit_name, self.requests_per_hour, Period.HOUR, burst=self.burst,
                     min_gap=self.min_delay, tz=self.tz, window_rates=rates)  # fmt: skip

    def url(self, path: str = "/") -> str:
        """`path` resolved against the base URL (an absolute URL must be on it)."""
        url = urljoin(self.base_url if self.base_url.endswith("/") else self.base_url + "/",
                      path.lstrip("/") if "://" not in path else path)  # fmt: skip
        if urlsplit(url).netloc != urlsplit(self.base_url).netloc:
            raise ConfigurationError(f"source {self.name!r}: {path!r} is not on {self.base_url}")
        return url


class Sources:
    """The sources of one app: `sources.add(Source(...))`, then
    `sources.declare(scrape_task)` declares their limits and schedules."""

    def __init__(self) -> None:
        self._sources: dict[str, Source] = {}

    def add(self, source: Source) -> Source:
        if source.name in self._sources:
            raise ConfigurationError(f"source {source.name!r} is registered twice")
        self._sources[source.name] = source
        return source

    def get(self, name: str) -> Source:
        try:
            return self._sources[name]
        except KeyError:
            known = ", ".join(sorted(self._sources)) or "none"
            raise ConfigurationError(f"no source named {name!r} (known: {known})") from None

    def __iter__(self) -> Iterator[Source]:
        return iter(self._sources.values())

    def __len__(self) -> int:
        return len(self._sources)

    def declare(self, app: App, task: Task, *, schedules: bool = True) -> list[ScheduleDef]:
        """Declare each source's limit on `app` and (unless `schedules=False`) a
        schedule `scrape:<name>` calling `task(source=<name>)` at its priority's
        interval. Stored when a worker starts, like every declaration."""
        made = []
        for source in self:
            limit = source.limit()
            app.limit(
                limit.name,
                limit.rate_text,
                burst=limit.burst,
                min_gap=limit.min_gap,
                windows=dict(source.respectful_hours),
                tz=source.tz,
            )
            if schedules:
                made.append(
                    app.schedule(
                        f"scrape:{source.name}",
                        source.schedule_spec,
                        task,
                        kwargs={"source": source.name},
                        tz=source.tz,
                    )
                )
        return made
