"""Where Redis is: the URL forms chronoq accepts, parsed into one description.

```
redis://[user:pass@]host[:port][/db]          one server
rediss://...                                  one server over TLS
unix://[user:pass@]/path/to/socket[?db=N]     one server on a Unix socket
redis+cluster://[user:pass@]host:port[,host:port...]        a Redis Cluster
redis+sentinel://[user:pass@]host:port[,host:port...]/service[/db]
                                              a Sentinel-managed primary
```

`rediss+cluster://` and `rediss+sentinel://` speak TLS to every node (and, for
Sentinel, to the sentinels too). Credentials in the URL are the data nodes' ACL
user; Sentinel uses them for the sentinels as well unless settings name others.
Parsing is pure: nothing connects here, and every mistake names itself.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from chronoq.core.errors import ConfigurationError

DEFAULT_PORT = 6379
DEFAULT_SENTINEL_PORT = 26379


class Mode(enum.StrEnum):
    SINGLE = "single"
    CLUSTER = "cluster"
    SENTINEL = "sentinel"


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class RedisTarget:
    """One parsed URL. `url` is the original (for a single server, redis-py reads it
    itself: every query option it knows keeps working)."""

    url: str
    mode: Mode
    tls: bool
    nodes: tuple[Endpoint, ...] = ()  # cluster seed nodes, or the sentinels
    service: str | None = None  # the Sentinel service (master) name
    db: int = 0
    username: str | None = None
    password: str | None = None

    @property
    def where(self) -> str:
        """The target in words for messages, without credentials."""
        if self.mode is Mode.SINGLE:
            parts = urlsplit(self.url)
            return f"{parts.scheme}://{parts.hostname or ''}{_port_part(parts.port)}{parts.path}"
        nodes = ",".join(str(n) for n in self.nodes)
        if self.mode is Mode.CLUSTER:
            return f"cluster {nodes}"
        return f"sentinel service {self.service!r} via {nodes}"


_SCHEMES = {
    "redis": (Mode.SINGLE, False),
    "rediss": (Mode.SINGLE, True),
    "unix": (Mode.SINGLE, False),
    "redis+cluster": (Mode.CLUSTER, False),
    "rediss+cluster": (Mode.CLUSTER, True),
    "redis+sentinel": (Mode.SENTINEL, False),
    "rediss+sentinel": (Mode.SENTINEL, True),
}


def parse_redis_url(url: str) -> RedisTarget:
    """Parse a Redis URL, or raise ConfigurationError saying what is wrong with it."""
    if not isinstance(url, str) or "://" not in url:
        raise ConfigurationError(
            f"invalid Redis URL {url!r}: expected redis://, rediss://, unix://, "
            "redis+cluster:// or redis+sentinel://"
        )
    scheme = url.split("://", 1)[0].lower()
    if scheme not in _SCHEMES:
        known = ", ".join(f"{s}://" for s in _SCHEMES)
        raise ConfigurationError(f"invalid Redis URL {_redact(url)!r}: unknown scheme; use {known}")
    mode, tls = _SCHEMES[scheme]
    if mode is Mode.SINGLE:
        _check_single(url)
        return RedisTarget(url=url, mode=mode, tls=tls)
    user, password, hosts, path = _split_multi(url)
    default_port = DEFAULT_PORT if mode is Mode.CLUSTER else DEFAULT_SENTINEL_PORT
    nodes = tuple(_endpoint(h, default_port, url) for h in hosts)
    if mode is Mode.CLUSTER:
        if path.strip("/"):
            raise ConfigurationError(
                f"invalid Redis URL {_redact(url)!r}: a cluster has no databases or "
                "service names; drop the path"
            )
        return RedisTarget(url, mode, tls, nodes, username=user, password=password)
    service, db = _sentinel_path(path, url)
    return RedisTarget(url, mode, tls, nodes, service, db, user, password)


def _check_single(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme == "unix":
        if not parts.path:
            raise ConfigurationError(f"invalid Redis URL {_redact(url)!r}: no socket path")
        return
    if not parts.hostname:
        raise ConfigurationError(f"invalid Redis URL {_redact(url)!r}: no host")
    try:
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        raise ConfigurationError(f"invalid Redis URL {_redact(url)!r}: bad port") from None


def _split_multi(url: str) -> tuple[str | None, str | None, list[str], str]:
    """user, password, host list and path of a multi-host URL (urlsplit refuses
    several hosts, so the netloc is split by hand)."""
    rest = url.split("://", 1)[1]
    rest = rest.split("?", 1)[0].split("#", 1)[0]
    netloc, _, path = rest.partition("/")
    user = password = None
    if "@" in netloc:
        auth, netloc = netloc.rsplit("@", 1)
        name, sep, secret = auth.partition(":")
        user = unquote(name) or None
        password = unquote(secret) if sep else None
    hosts = [h.strip() for h in netloc.split(",") if h.strip()]
    if not hosts:
        raise ConfigurationError(f"invalid Redis URL {_redact(url)!r}: no host:port given")
    return user, password, hosts, path


def _endpoint(text: str, default_port: int, url: str) -> Endpoint:
    if text.startswith("["):  # [ipv6]:port
        host, _, tail = text[1:].partition("]")
        port = tail.removeprefix(":") or str(default_port)
    elif ":" in text:
        host, _, port = text.rpartition(":")
    else:
        host, port = text, str(default_port)
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigurationError(f"invalid Redis URL {_redact(url)!r}: bad host:port {text!r}")
    return Endpoint(host, int(port))


def _sentinel_path(path: str, url: str) -> tuple[str, int]:
    parts = [p for p in path.split("/") if p]
    if not parts:
        raise ConfigurationError(
            f"invalid Redis URL {_redact(url)!r}: name the Sentinel service, "
            "as in redis+sentinel://host:26379/mymaster"
        )
    if len(parts) > 2 or (len(parts) == 2 and not parts[1].isdigit()):
        raise ConfigurationError(
            f"invalid Redis URL {_redact(url)!r}: the path is /service_name[/db]"
        )
    return unquote(parts[0]), int(parts[1]) if len(parts) == 2 else 0


def _port_part(port: int | None) -> str:
    return f":{port}" if port else ""


def _redact(url: str) -> str:
    """The URL without its password, for error messages."""
    head, sep, rest = url.partition("://")
    if not sep or "@" not in rest.split("/", 1)[0]:
        return url
    auth, _, tail = rest.partition("@")
    name = auth.split(":", 1)[0]
    return f"{head}://{name}:***@{tail}" if ":" in auth else f"{head}://{name}@{tail}"


def redact(url: str) -> str:
    """`url` with any password replaced by ***: safe to log."""
    return _redact(url)
