"""Request bodies shared by the routes: every one refuses unknown fields (a typo is
an error naming it, never silently ignored) and naive datetimes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Page(BaseModel):
    """A page of a listing; `next_cursor` null: nothing more."""

    model_config = ConfigDict(extra="allow")

    next_cursor: str | None = None


class JobPageOut(Page):
    jobs: list[dict[str, Any]] = Field(default_factory=list)
    examined: int = 0
    filters: dict[str, Any] = Field(default_factory=dict)


class Done(BaseModel):
    """What an action did."""

    model_config = ConfigDict(extra="allow")

    id: str | None = None
    status: str
