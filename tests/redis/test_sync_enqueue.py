"""The sync enqueuer's own wire: replies read off the socket by chronoq's reader."""

from __future__ import annotations

import pytest
import redis
from redis.exceptions import NoScriptError, ResponseError

from chronoq import App, JobStatus
from chronoq.client import JobRequest
from chronoq.redis.errors import Fault, classify, error_reply


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
