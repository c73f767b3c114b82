"""The least-privilege ACL rules for chronoq's three kinds of user, exactly as the README
states them ("Production Redis: ACL"); tests/redis/test_acl_rules.py fails if the two
differ, and the ACL tests run every role under exactly these rules.

Each rule is a template: `{prefix}` is the key prefix (`chronoq` by default). Every key
chronoq uses starts with `<prefix>:`, and the scheduler's change channel is
`<prefix>:{~sched}:changed`. Commands a Lua script calls are checked against the
caller's ACL like commands sent directly, so a role is granted what its scripts call too.
"""

from __future__ import annotations

# Scripts: functions of chronoq's library, called with FCALL; the library is loaded
# (FUNCTION LOAD) by the first client that finds it missing.
_SCRIPTS = "+fcall +function|load"
# Health checks of idle connections (redis-py sends HELLO/AUTH on connect: always allowed).
_CONNECTION = "+ping"

WORKER = (
    "resetkeys ~{prefix}:* resetchannels &{prefix}:* -@all "
    f"{_CONNECTION} {_SCRIPTS} +info +wait +multi +exec +blpop +subscribe +unsubscribe "
    "+publish +time +get +set +del +exists +incr +pexpire +pexpireat +pttl +persist "
    "+hget +hset +hsetnx +hdel +hmget +hincrby +hkeys +hexists +hgetall +hlen "
    "+lpop +rpush +lpush +ltrim +lrange +llen +lrem +sadd +srem +smembers +sismember +scard "
    "+zadd +zrem +zcard +zscore +zmscore +zrange +zrevrange +zrangebyscore "
    "+zrevrangebyscore +zremrangebyscore +zremrangebyrank +zpopmin +xadd"
)
"""A worker, with the scheduler loop it runs (and `chronoq scheduler` alone). `+info`:
its start-up check reads INFO (CONFIG GET is optional: refused, it is skipped)."""

PRODUCER = (
    "resetkeys ~{prefix}:* resetchannels &{prefix}:cancel -@all "
    f"{_CONNECTION} {_SCRIPTS} +wait +time +publish +sadd +smembers +exists +get +set +incr "
    "+hget +hset +hsetnx +hdel +hmget +hgetall +llen +rpush +pexpire "
    "+zadd +zrem +zcard +zrevrangebyscore +xadd"
)
"""An application that enqueues jobs (the async and the sync client), reads their
state and results, and cancels them (a running job's cancel is published on
`<prefix>:cancel`, the one channel it may use)."""

VIEWER = (
    "resetkeys %R~{prefix}:* resetchannels -@all "
    f"{_CONNECTION} +hexists +get +exists +smembers +hget +hmget +hkeys "
    "+hgetall +zcard +zrange +zrevrange +zmscore"
)
"""The command line's read commands: queues, jobs, job ID, workers, schedules list,
limits list. Read commands only, on read-only keys (`%R~`): it runs no script."""

ROLES = {"worker": WORKER, "producer": PRODUCER, "viewer": VIEWER}


def rules_for(role: str, prefix: str, password: str) -> str:
    """The full rule string for `ACL SETUSER <user> ...` (or an ACL file's user line)."""
    return f"on >{password} " + ROLES[role].format(prefix=prefix)
