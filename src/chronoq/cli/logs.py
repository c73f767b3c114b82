"""Log output of the long-running commands: `--log-level` and `--log-format`.

`text`: one line per record, `time LEVEL logger: message`. `json`: one JSON object
per line with stable field names for log shippers: ts (ISO 8601, UTC), level,
logger, message, and whichever of the job fields the record carries (event,
job_id, task, queue, attempt, max_attempts, duration_ms, error, retry_in; the
worker sets them on every job line, see `chronoq.worker.events`), plus exc_info
as `traceback` when the record has an exception.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from chronoq.cli.common import CliError

FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JOB_FIELDS = (
    "event",
    "job_id",
    "task",
    "queue",
    "attempt",
    "max_attempts",
    "duration_ms",
    "error",
    "retry_in",
)


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in JOB_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str, log_format: str = "text") -> None:
    """Send chronoq's (and the app's) log records to stderr at `level`, as `log_format`."""
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise CliError(f"unknown log level {level!r}; choose debug, info, warning or error")
    if log_format not in FORMATS:
        raise CliError(f"unknown log format {log_format!r}; choose text or json")
    handler = logging.StreamHandler(sys.stderr)
    formatter = JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    handler.setFormatter(formatter)
    logging.basicConfig(level=numeric, handlers=[handler], force=True)
