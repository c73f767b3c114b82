"""robots.txt per RFC 9309, as pure values: parse the file, pick the group for our
user agent, and decide a path by the longest matching rule.

What the RFC asks and where it is done here:
- groups start with one or more `user-agent` lines; groups naming our product token
  (case-insensitive) are merged, else the `*` group applies, else nothing does (§2.2.1);
- `allow`/`disallow` match the path from its start; `*` is any run of characters
  and a final `$` anchors the end (§2.2.3); the longest pattern wins, and an allow
  wins a tie (§2.2.2); an empty `disallow:` is no rule;
- percent-encoding is normalized on both sides before comparing (§2.2.2), and a
  literal `*` or `$` in a URL matches `%2A` or `%24` in a pattern;
- `/robots.txt` itself is always allowed (§2.2.2);
- `crawl-delay` (an extension outside the RFC, which §2.2.4 lets parsers accept) is
  read from the chosen group;
- at most 500 KiB are parsed (§2.5).
The fetch side (4xx: allow all, 5xx or unreachable: disallow all, caching) is in
robots_cache.py.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

MAX_BYTES = 500 * 1024
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
_ALLOWED_IN_PATH = "/?=&;:@+,!'()*$%#[]-._~"  # left as they are by quote()


@dataclass(frozen=True, slots=True)
class Rule:
    allow: bool
    pattern: str  # normalized

    @property
    def regex(self) -> re.Pattern[str]:
        return _compile(self.pattern)


@dataclass(frozen=True, slots=True)
class Group:
    agents: tuple[str, ...]  # lowercased product tokens, "*" for any
    rules: tuple[Rule, ...] = ()
    crawl_delay: float | None = None


@dataclass(frozen=True, slots=True)
class Robots:
    """A parsed robots.txt (or one of the two verdicts without a file)."""

    groups: tuple[Group, ...] = ()
    disallow_all: bool = False  # the file was unreachable (5xx, network error)
    sitemaps: tuple[str, ...] = field(default=())

    @classmethod
    def allow_all(cls) -> Robots:
        return cls()

    @classmethod
    def unreachable(cls) -> Robots:
        return cls(disallow_all=True)

    @classmethod
    def parse(cls, text: str | bytes) -> Robots:
        return parse(text)

    def group_for(self, user_agent: str) -> Group | None:
        """The rules for `user_agent`: its groups merged, else the `*` groups."""
        token = product_token(user_agent)
        mine = [g for g in self.groups if token in g.agents]
        chosen = mine or [g for g in self.groups if "*" in g.agents]
        if not chosen:
            return None
        delays = [g.crawl_delay for g in chosen if g.crawl_delay is not None]
        rules = tuple(rule for g in chosen for rule in g.rules)
        return Group((token,), rules, max(delays) if delays else None)

    def allowed(self, url_or_path: str, user_agent: str) -> bool:
        path = request_path(url_or_path)
        if path == "/robots.txt":
            return True
        if self.disallow_all:
            return False
        group = self.group_for(user_agent)
        if group is None:
            return True
        best: Rule | None = None
        for rule in group.rules:
            if rule.regex.match(path) is None:
                continue
            if best is None or _wins(rule, best):
                best = rule
        return best is None or best.allow

    def crawl_delay(self, user_agent: str) -> float | None:
        if self.disallow_all:
            return None
        group = self.group_for(user_agent)
        return group.crawl_delay if group else None

    def to_dict(self) -> dict[str, object]:
        return {
            "disallow_all": self.disallow_all,
            "groups": [
                {
                    "agents": list(g.agents),
                    "delay": g.crawl_delay,
                    "rules": [[r.allow, r.pattern] for r in g.rules],
                }
                for g in self.groups
            ],
        }

    @classmethod
    def from_dict(cls, raw: dict[str, object]) -> Robots:
        groups = raw.get("groups", [])
        assert isinstance(groups, list)
        return cls(
            groups=tuple(
                Group(
                    tuple(g["agents"]),
                    tuple(Rule(bool(a), str(p)) for a, p in g["rules"]),
                    g["delay"],
                )
                for g in groups
            ),
            disallow_all=bool(raw.get("disallow_all")),
        )


def _wins(rule: Rule, best: Rule) -> bool:
    """The longer pattern is the more specific; on a tie the allow wins (§2.2.2)."""
    if len(rule.pattern) != len(best.pattern):
        return len(rule.pattern) > len(best.pattern)
    return rule.allow and not best.allow


def product_token(user_agent: str) -> str:
    """`MyBot/2.1 (+https://...)` -> `mybot`: the part robots.txt groups name."""
    token = user_agent.strip().split("/", 1)[0].split(None, 1)
    return token[0].lower() if token else ""


def request_path(url_or_path: str) -> str:
    """The path and query of a URL (or a path), normalized for matching."""
    if "://" in url_or_path:
        parts = urlsplit(url_or_path)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
    else:
        path = url_or_path or "/"
    return normalize(path.replace("*", "%2A").replace("$", "%24"))


def normalize(text: str) -> str:
    """Percent-encode what is not ASCII (as UTF-8), decode escapes of unreserved
    characters, upper-case the remaining escapes: both sides compare alike."""
    encoded = quote(text, safe=_ALLOWED_IN_PATH)

    def one(match: re.Match[str]) -> str:
        char = chr(int(match[1], 16))
        return char if char in _UNRESERVED else "%" + match[1].upper()

    return _PERCENT.sub(one, encoded)


def _compile(pattern: str) -> re.Pattern[str]:
    anchored = pattern.endswith("$")
    body = pattern[:-1] if anchored else pattern
    regex = ".*".join(re.escape(part) for part in body.split("*"))
    return re.compile(regex + (r"\Z" if anchored else ""), re.DOTALL)


def parse(text: str | bytes) -> Robots:
    if isinstance(text, bytes):
        text = text[:MAX_BYTES].decode("utf-8", errors="replace")
    else:
        text = text[:MAX_BYTES]
    groups: list[Group] = []
    agents: list[str] = []
    rules: list[Rule] = []
    delay: float | None = None
    in_rules = False
    sitemaps: list[str] = []

    def close() -> None:
        if agents:
            groups.append(Group(tuple(agents), tuple(rules), delay))

    for line in text.splitlines():
        key, sep, value = line.split("#", 1)[0].partition(":")
        if not sep:
            continue
        key, value = key.strip().lower().replace(" ", "-"), value.strip()
        if key == "user-agent":
            if in_rules:
                close()
                agents, rules, delay, in_rules = [], [], None, False
            agents.append("*" if value == "*" else product_token(value))
        elif key in ("allow", "disallow"):
            in_rules = True
            if agents and value:
                rules.append(Rule(key == "allow", normalize(value)))
        elif key == "crawl-delay":
            in_rules = True
            delay = _delay(value)
        elif key == "sitemap":
            sitemaps.append(value)
    close()
    return Robots(tuple(groups), sitemaps=tuple(sitemaps))


def _delay(value: str) -> float | None:
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
