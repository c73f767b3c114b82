"""An app whose tasks fail in kinds the failure classes tell apart (tests/cli/test_history.py)."""

from __future__ import annotations

from chronoq import App

app = App("observe")


class QuotaGone(RuntimeError):
    """A platform's error the app classifies itself."""


app.error_class(QuotaGone, "timeout")


@app.task(max_retries=0, account="{account}")
async def flaky(account: str, n: int) -> None:
    raise ConnectionError(f"refused by 10.0.0.{n} after {n} tries")


@app.task(max_retries=0, account="{account}")
async def parse(account: str, n: int) -> None:
    raise ValueError(f"bad row {n} in report-{n}.csv")


@app.task(max_retries=0)
async def quota(n: int) -> None:
    raise QuotaGone(f"quota of {n} used")


@app.task
async def fine(n: int) -> int:
    return n
