"""An app with a schedule due every second, for scheduler process tests."""

from __future__ import annotations

from chronoq import App

app = App("sched")


@app.task
async def tick() -> None:
    return None


app.schedule("tick", "* * * * * *", tick)
