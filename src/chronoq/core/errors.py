"""Exceptions users can catch. Each message names the offending value."""


class ChronoqError(Exception):
    """Base class for every error chronoq raises on purpose."""


class ConfigurationError(ChronoqError, ValueError):
    """Settings or options that cannot work together."""


class SerializationError(ChronoqError, TypeError):
    """A value cannot be stored as JSON; raised at enqueue time, never at run time."""


class JobNotFound(ChronoqError, LookupError):
    """No job with that id exists (never did, or its record expired)."""


class InvalidJobState(ChronoqError):
    """The job is not in a state that allows the requested operation."""


class UnknownTask(ChronoqError, LookupError):
    """A job names a task the worker's app does not define."""


class ServerUnsafe(ChronoqError):
    """The Redis server is configured in a way that can lose jobs (strict mode)."""


class JobTimeout(ChronoqError, TimeoutError):
    """A run exceeded its timeout and was cancelled."""


class ScheduleNotFound(ChronoqError, LookupError):
    """No schedule with that name exists."""


class ScheduleExists(ChronoqError):
    """A schedule with that name exists already (update it, or add with replace)."""
