"""Hearing cancel requests for running jobs.

`Client.cancel` on a running job marks it (`cxl`) and publishes its id; every
worker follows the channel and the one running the job stops it (`Runs.cancel`).
A message missed while reconnecting is not lost: the lease renewal reports marked
jobs too, within a third of the lease."""

from __future__ import annotations

import logging
from collections.abc import Callable

from chronoq.redis.channels import follow
from chronoq.redis.connector import AsyncRedis

log = logging.getLogger("chronoq.worker")


class CancelListener:
    def __init__(
        self, client: AsyncRedis, channel: str, on_cancel: Callable[[str], None], worker_id: str
    ) -> None:
        self._client = client  # a connection of its own: a subscription holds it
        self._channel = channel
        self._on_cancel = on_cancel
        self._worker_id = worker_id

    async def run(self) -> None:
        """Follow the channel forever (cancel to stop)."""
        await follow(self._client, self._channel, self._on_cancel, on_refused=self._refused)

    def _refused(self, exc: BaseException) -> None:
        log.warning(
            "chronoq worker %s: cannot subscribe to cancel requests (%s); running jobs "
            "see a cancel at their next lease renewal instead",
            self._worker_id,
            exc,
        )
