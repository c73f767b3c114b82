"""What a Redis error means for chronoq: wait it out, give up, or neither.

The one place that knows the driver's exception classes (redis-py 8). Code outside
`chronoq.redis` asks `classify` and `describe` and catches `RedisError` from here,
never from the `redis` package.

Classification is by exception class, never by message: redis-py strips a known
error code from the message (a READONLY reply arrives as `ReadOnlyError("You can't
write against a read only replica.")`) and keeps it in `status_code`. Replies it
has no class for (BUSY, MISCONF, NOREPLICAS, UNBLOCKED) arrive as a plain
`ResponseError` whose message still starts with the code: those are mapped by that
code here, explicitly.

- TEMPORARY: the server will answer again if we wait. Connections lost, refused
  or reset, timeouts, LOADING, READONLY (a primary demoted during a failover),
  MASTERDOWN, CLUSTERDOWN, TRYAGAIN, OOM under noeviction, BUSY (a script runs),
  MISCONF (a failing disk save), NOREPLICAS, UNBLOCKED (a blocking read ended by a
  role change). Waiting beats dropping work.
- PERMANENT: waiting cannot help; a person must change the configuration. A
  refused password (WRONGPASS, NOAUTH, invalid password), a denied command
  (NOPERM), a TLS handshake or certificate failure, an unknown command.
- OTHER: neither (a script error, a bad argument, a bug): the caller decides.

ASK and MOVED are followed by the cluster client itself; if one reaches us it is
OTHER. Two TLS misconfigurations cannot be told from an outage: a plain client on
a TLS port sees its connection reset, and a TLS client on a plain port times out
waiting for the handshake; both classify as TEMPORARY.
"""

from __future__ import annotations

import enum
import os
import ssl
from urllib.parse import urlsplit

from redis import exceptions as driver
from redis._parsers import BaseParser

from chronoq.core.errors import ChronoqError
from chronoq.redis.urls import parse_redis_url, redact

RedisError = driver.RedisError
ResponseError = driver.ResponseError
# What talking to Redis can raise: a Cluster client that reaches no node raises a
# RedisClusterException, which is no RedisError.
REDIS_FAULTS: tuple[type[BaseException], ...] = (
    driver.RedisError,
    driver.RedisClusterException,
    OSError,
)

__all__ = [
    "REDIS_FAULTS",
    "Fault",
    "RedisError",
    "RedisUnusable",
    "ResponseError",
    "classify",
    "describe",
    "error_reply",
    "refused_command",
    "server_label",
]


class Fault(enum.Enum):
    TEMPORARY = "temporary"
    PERMANENT = "permanent"
    OTHER = "other"


class RedisUnusable(ChronoqError):
    """Redis cannot be used as configured (wrong password, missing permission, a
    TLS certificate it rejects): retrying cannot help. The message is one line
    naming the server and the cause; the driver's exception is `__cause__`."""

    def __init__(self, message: str, *, server: str | None = None) -> None:
        super().__init__(message)
        self.server = server

    @classmethod
    def from_error(cls, exc: BaseException, server: str | None = None) -> RedisUnusable:
        unusable = cls(describe(exc, server), server=server)
        unusable.__cause__ = exc
        return unusable


_TEMPORARY_CLASSES: tuple[type[BaseException], ...] = (
    driver.BusyLoadingError,  # LOADING
    driver.ReadOnlyError,  # READONLY
    driver.OutOfMemoryError,  # OOM
    driver.TryAgainError,  # TRYAGAIN
    driver.ClusterError,  # CLUSTERDOWN, MASTERDOWN, "TTL exhausted" while a cluster reshapes
    driver.SlotNotCoveredError,
    driver.ConnectionError,  # lost, refused, reset; pool exhausted
    driver.TimeoutError,
    OSError,  # a raw socket error the driver did not wrap
)
_PERMANENT_CLASSES: tuple[type[BaseException], ...] = (
    driver.AuthenticationError,  # WRONGPASS, NOAUTH, "invalid password"
    driver.AuthorizationError,
    driver.AuthenticationWrongNumberOfArgsError,
    driver.NoPermissionError,  # NOPERM
)
# A Cluster client that cannot read a whole slot map (no node answers, the nodes
# disagree mid-failover) says so in words only; its other RedisClusterExceptions are
# mistakes (keys of one call in two slots) that retrying cannot mend.
_CLUSTER_MAP_UNREADABLE = (
    "Redis Cluster cannot be connected",
    "All slots are not covered",
    "startup_nodes could not agree",
)
# Codes redis-py has no class for: it leaves them at the start of the message.
_TEMPORARY_CODES = frozenset({"BUSY", "MISCONF", "NOREPLICAS", "UNBLOCKED"})
_PIPELINE_MARK = " of pipeline caused error: "
# ssl.SSLError subclasses that mean the connection dropped, not that TLS is misset.
_SSL_DROPPED = (ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLSyscallError, ssl.SSLWantReadError)
_SSL_MARKS = ("CERTIFICATE_VERIFY_FAILED", "WRONG_VERSION_NUMBER", "ALERT", "CERTIFICATE_REQUIRED")


def error_reply(message: str) -> driver.RedisError:
    """The driver's exception for an error reply's text (`READONLY You can't...` is
    a ReadOnlyError), as redis-py's own parser makes it: for code that reads replies
    off a socket itself, so `classify` sees the same classes."""
    error: driver.RedisError = BaseParser.parse_error(message)  # type: ignore[no-untyped-call]
    return error


def classify(exc: BaseException) -> Fault:
    """TEMPORARY, PERMANENT or OTHER (see the module docstring)."""
    if _tls_failure(exc) is not None:
        return Fault.PERMANENT
    if isinstance(exc, _PERMANENT_CLASSES) or _unknown_command(exc):
        return Fault.PERMANENT
    if isinstance(exc, _TEMPORARY_CLASSES) or error_code(exc) in _TEMPORARY_CODES:
        return Fault.TEMPORARY
    if isinstance(exc, driver.RedisClusterException) and str(exc).startswith(
        _CLUSTER_MAP_UNREADABLE
    ):
        return Fault.TEMPORARY
    if _stream_gone_in_driver(exc):
        return Fault.TEMPORARY
    return Fault.OTHER


def _stream_gone_in_driver(exc: BaseException) -> bool:
    """A Cluster client that fails to reach a node closes every connection it holds
    to it; a command already sending on one then fails inside redis-py with an
    AttributeError on the closed stream (`'NoneType' object has no attribute
    'writelines'`), not a ConnectionError. Raised by the driver's own code, it is a
    lost connection; an AttributeError anywhere else stays a bug."""
    if not isinstance(exc, AttributeError) or "'NoneType' object has no attribute" not in str(exc):
        return False
    frame = exc.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    module = "" if frame is None else str(frame.tb_frame.f_globals.get("__name__", ""))
    return module.startswith("redis.")


def refused_command(exc: BaseException) -> bool:
    """The server answered, and said no to this one command (NOPERM, an unknown or
    disabled command, an error reply): the connection itself is fine."""
    return isinstance(exc, driver.ResponseError) and classify(exc) is not Fault.TEMPORARY


def error_code(exc: BaseException) -> str | None:
    """The reply's error code (READONLY, NOPERM, BUSY, ERR...), if a reply it was."""
    if not isinstance(exc, driver.RedisError):
        return None
    code = getattr(exc, "status_code", None)  # redis-py 8 keeps the code it strips
    if isinstance(code, str) and code:
        return code
    if isinstance(exc, driver.ResponseError):
        # A pipeline prefixes its position: "Command # 1 (GET a) of pipeline caused
        # error: ('BUSY Redis is busy ...',)".
        text = str(exc).rpartition(_PIPELINE_MARK)[2].lstrip("('\"")
        first = text.split(" ", 1)[0]
        if first.isupper() and first.isalpha():
            return first
    return None


def _unknown_command(exc: BaseException) -> bool:
    return isinstance(exc, driver.ResponseError) and str(exc).startswith("unknown command")


def _tls_failure(exc: BaseException) -> str | None:
    """The TLS failure behind `exc` (its reason), if the handshake or certificate
    failed. redis-py raises ConnectionError inside `except ssl.SSLError`, so the
    SSL error is its `__context__`; the message repeats the reason as a fallback."""
    seen: BaseException | None = exc
    for _ in range(6):  # a short chain; never loop on a cyclic one
        if seen is None:
            break
        if isinstance(seen, ssl.SSLError) and not isinstance(seen, _SSL_DROPPED):
            return str(seen)
        seen = seen.__cause__ or seen.__context__
    text = str(exc)
    if "[SSL" in text and any(mark in text for mark in _SSL_MARKS):
        return text
    return None


def server_label(url: str) -> str:
    """host:port of a Redis URL, without credentials (for messages and logs); for a
    Cluster or Sentinel URL, its nodes."""
    if "+" in url.split("://", 1)[0]:
        try:
            return parse_redis_url(url).where
        except ValueError:
            return redact(url)
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return f"unix:{parts.path}"
    host = parts.hostname or "localhost"
    return f"{host}:{parts.port or 6379}"


_PHRASES = {
    "WRONGPASS": "refused the username or password (WRONGPASS)",
    "NOAUTH": "requires a password (NOAUTH): give it in the URL, redis://:PASSWORD@host:port",
    "READONLY": "is a read-only replica (READONLY)",
    "LOADING": "is loading its data set into memory (LOADING)",
    "BUSY": "is busy running a script (BUSY)",
    "OOM": "is out of memory and refuses writes (OOM)",
    "TRYAGAIN": "asks to try again while a slot moves (TRYAGAIN)",
    "CLUSTERDOWN": "reports the cluster down (CLUSTERDOWN)",
    "MASTERDOWN": "is a replica that lost its primary (MASTERDOWN)",
    "MISCONF": "cannot save to disk and refuses writes (MISCONF)",
    "NOREPLICAS": "has too few replicas in sync to accept writes (NOREPLICAS)",
    "UNBLOCKED": "ended a blocking read: it changed role (UNBLOCKED)",
}


def describe(exc: BaseException, server: str | None = None) -> str:
    """One human line, e.g. "Redis at host:6379 refused the username or password
    (WRONGPASS)". `server` is a `server_label`."""
    where = f"Redis at {server}" if server else "Redis"
    tls = _tls_failure(exc)
    if tls is not None:
        return f"TLS with {where} failed: {_strip_ssl(tls)}"
    code = error_code(exc)
    if code is None and isinstance(exc, driver.TimeoutError | TimeoutError):
        return f"{where} did not answer in time ({_first_line(exc) or 'timeout'})"
    if code is None and isinstance(exc, driver.ConnectionError | OSError):
        reason = _network_reason(exc) or _first_line(exc) or type(exc).__name__
        return f"cannot reach {where}: {reason}"
    return f"{where} {_reply_phrase(exc, code)}"


def _reply_phrase(exc: BaseException, code: str | None) -> str:
    """What the server said, after "Redis at host:port"."""
    detail = _first_line(exc) or type(exc).__name__
    if code in _PHRASES:
        return _PHRASES[code]
    if code == "NOPERM":
        return f"denied this user a command chronoq needs (NOPERM): {detail}"
    if _unknown_command(exc):
        return f"does not know a command chronoq needs: {detail}"
    if isinstance(exc, driver.AuthenticationError):
        return f"refused to authenticate: {detail}"
    return f"replied with an error: {detail}"


def _network_reason(exc: BaseException) -> str | None:
    """ "Connection refused" rather than redis-py's "Error 111 connecting to h:p.
    Connect call failed ('127.0.0.1', 1).": the system's words for the errno."""
    seen: BaseException | None = exc
    for _ in range(6):
        if seen is None:
            break
        if isinstance(seen, OSError) and isinstance(seen.errno, int) and seen.errno > 0:
            return os.strerror(seen.errno)
        seen = seen.__cause__ or seen.__context__
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def _strip_ssl(reason: str) -> str:
    """ "Error 1 connecting to h:p. [SSL: X] certificate verify failed: y (_ssl.c:1006)."
    -> "certificate verify failed: y (X)"."""
    text = reason
    if "[SSL: " in text:
        rest = text.partition("[SSL: ")[2]
        mark, _, tail = rest.partition("] ")
        tail = tail.split(" (_ssl.c", 1)[0].rstrip(". ")
        return f"{tail} ({mark})" if tail else mark
    return text.split(" (_ssl.c", 1)[0].rstrip(". ")
