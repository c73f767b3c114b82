"""The sync enqueuer's own wire: replies read off the socket by chronoq's reader."""

from __future__ import annotations

import pytest
import redis
from redis.exceptions import NoScriptError, ResponseError

from chronoq import App, JobStatus
from chronoq.client import JobRequest
from chronoq.redis.errors import Fault, classify, error_reply
from chronoq.redis.keys import Keyspace
from tests.servers.polling import wait_for
from tests.servers.sentinel import SentinelGroup
from tests.worker.test_sentinel import sentinel_url


def test_an_error_reply_among_several_is_raised_after_all_are_read(app: App) -> None:
    """The connection stays in step: the next exchange on the same socket gets its
    own replies, not the ones left unread after the error."""
    with app.sync_client() as client:
        enqueuer = client._enqueuer
        client.submit(JobRequest("t", force=True))
        wire = enqueuer._wire
        key = f"{app.settings.prefix}:wire-test"
        with pytest.raises(ResponseError, match="not an integer"):
            enqueuer._send([("SET", key, "x"), ("INCR", key), ("ECHO", "after")])
        assert enqueuer._wire is wire  # kept: every reply was read
        assert enqueuer._send([("ECHO", "next"), ("GET", key)]) == ["next", "x"]
        job = client.submit(JobRequest("t", force=True))
        assert job.status is JobStatus.QUEUED and client.job(job.id).task == "t"


def test_error_replies_get_the_drivers_classes(app: App) -> None:
    """classify() judges by class, so replies read by chronoq's reader must come out
    as redis-py's own parser makes them."""
    with app.sync_client() as client, pytest.raises(NoScriptError):
        client._enqueuer._send([("EVALSHA", "0" * 40, 0)])
    readonly = error_reply("READONLY You can't write against a read only replica.")
    assert isinstance(readonly, redis.ReadOnlyError) and classify(readonly) is Fault.TEMPORARY
    assert classify(error_reply("NOPERM this user has no permissions")) is Fault.PERMANENT


def test_a_graceful_failover_moves_the_sync_enqueuer_to_the_new_primary(
    sentinel_group: SentinelGroup, prefix: str
) -> None:
    """SENTINEL FAILOVER demotes the primary and the sentinels close its clients: the
    next enqueue finds its connection gone, reconnects, and the sentinels name the
    new primary. It succeeds there, once."""
    app = App("t", redis_url=sentinel_url(sentinel_group), prefix=prefix)
    with app.sync_client() as client:
        client.submit(JobRequest("t", force=True))
        enqueuer = client._enqueuer
        wire = enqueuer._wire
        assert wire is not None
        # On a connection to a Sentinel-managed primary a READONLY reply means it was
        # demoted under an open connection: raised as a ConnectionError, which the
        # enqueuer answers by reconnecting (as redis-py's Sentinel connection does).
        readonly = error_reply("READONLY You can't write against a read only replica.")
        assert isinstance(wire.error(readonly), redis.ConnectionError)
        old = sentinel_group.current_primary()
        (host, port) = sentinel_group.sentinel_addresses[0]
        with redis.Redis(host=host, port=port) as sentinel:
            sentinel.execute_command("SENTINEL", "FAILOVER", sentinel_group.service_name)
        new = sentinel_group.wait_for_failover(old)
        with old.client(decode_responses=True) as conn:

            def demoted() -> bool:
                return bool(conn.info("replication")["role"] == "slave")

            wait_for(f"port {old.port} to become a replica", demoted, 30)
        job = client.submit(JobRequest("t", force=True))
        assert job.status is JobStatus.QUEUED and job.created
        assert enqueuer._wire is not None and enqueuer._wire is not wire
    q = Keyspace(prefix).queue("default")
    with new.client(decode_responses=True) as conn:
        assert conn.hget(q.job_prefix + job.id, "status") == "queued"
        assert conn.zscore(q.ready, job.id) is not None


def test_readonly_stays_readonly_on_a_plain_server(app: App) -> None:
    """Without Sentinel there is no new primary to ask for: READONLY is raised as is."""
    with app.sync_client() as client:
        client.submit(JobRequest("t", force=True))
        wire = client._enqueuer._wire
        assert wire is not None
        readonly = error_reply("READONLY You can't write against a read only replica.")
        assert wire.error(readonly) is readonly
