"""Bulk operations: requeue, purge or resolve every dead job a filter matches, as a
server-side operation (202 and the operation's resource to poll), its progress,
listing and cancel. The API process runs them (`chronoq.bulk.OperationRunner`, in
its lifespan, or from its first request when mounted); the library audits them
(create, cancel, done) with the token's name as the actor, so these routes do not.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import Field

from chronoq.api import cursors
from chronoq.api.audit import audited
from chronoq.api.auth import Operator, Principal, Reader
from chronoq.api.idempotency import IdempotencyKey, Made, idempotent
from chronoq.api.models import Body, Page
from chronoq.api.problems import ProblemError
from chronoq.api.state import client
from chronoq.bulk import Operations
from chronoq.client import Client
from chronoq.core.access import Role
from chronoq.core.errors import ConfigurationError
from chronoq.core.operations import Edits, OperationKind
from chronoq.observe.filters import FilterError

dead_router = APIRouter(prefix="/v1/dead", tags=["operations"])
router = APIRouter(prefix="/v1/operations", tags=["operations"])
ClientDep = Annotated[Client, Depends(client)]
OperationId = Annotated[str, Path(min_length=1, max_length=64)]


class EditsBody(Body):
    priority: int | None = Field(default=None, ge=-1000, le=1000, description="requeue only")
    note: str = Field(default="", max_length=2000, description="resolve only")


class OperationBody(Body):
    kind: Literal["requeue", "purge", "resolve"]
    filter: str = Field(
        "",
        max_length=2000,
        description="Which dead jobs, in the filter grammar: 'task:send -account:acme "
        "since:2h error:\"reset\"' ('' for every dead job). The set is frozen when "
        "the operation is created: jobs dying later are not in it.",
    )
    edits: EditsBody | None = None
    dry_run: bool = Field(False, description="Count what it would do; change no job.")


class OperationPage(Page):
    operations: list[dict[str, Any]]


def _ops(c: Client) -> Operations:
    return Operations(c)


@dead_router.post(
    "/operations",
    status_code=202,
    summary="Requeue, purge or resolve every dead job a filter matches",
    responses={202: {"description": "The operation, pending; poll its Location."}},
    openapi_extra=audited("operations.create", by_library=True),
)
async def create_operation(
    body: OperationBody,
    request: Request,
    c: ClientDep,
    who: Principal = Operator,
    idempotency_key: str | None = IdempotencyKey,
) -> Response:
    """A server-side operation over the dead jobs the filter matches now, in batches,
    each job acted on at most once even if the API process is killed (another
    resumes it). Purge needs the admin role. The same Idempotency-Key returns the
    same operation."""
    kind = OperationKind(body.kind)
    if kind is OperationKind.PURGE and not who.role.allows(Role.ADMIN):
        raise ProblemError(403, f"purge needs the admin role; token {who.name!r} has "
                           f"{who.role.value}", needed_role="admin")  # fmt: skip
    edits = body.edits or EditsBody()

    async def make() -> Made:
        try:
            changes = Edits(priority=edits.priority, note=edits.note)
            scoped = f"{who.token_id}:{idempotency_key}" if idempotency_key else None
            op = await _ops(c).create(kind, body.filter, edits=changes, actor=who.name,
                                      dry_run=body.dry_run, idempotency_key=scoped)  # fmt: skip
        except FilterError as exc:
            raise ProblemError(422, str(exc), field="body.filter") from None
        except ConfigurationError as exc:
            field = "body.edits" if "edits." in str(exc) else "body.filter"
            raise ProblemError(422, str(exc), field=field) from None
        return 202, op.to_dict(), {"Location": f"/v1/operations/{op.id}"}

    return await idempotent(request, who, idempotency_key, make)


@router.get("/{operation_id}", summary="An operation and its progress")
async def get_operation(operation_id: OperationId, c: ClientDep, _: Principal = Reader) -> Any:
    """State (pending, running, done, cancelled, failed), progress (processed of
    total; total is null until its set is captured) and counts per outcome."""
    return (await _ops(c).get(operation_id)).to_dict()


@router.get("", summary="Operations, newest first", response_model=OperationPage)
async def list_operations(
    c: ClientDep,
    _: Principal = Reader,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> OperationPage:
    before = _before(cursor) if cursor else None
    found = await _ops(c).list(limit=limit, before_ms=before)
    more = cursors.encode("operations", str(found[-1].created_ms)) if len(found) == limit else None
    return OperationPage(operations=[op.to_dict() for op in found], next_cursor=more)


def _before(cursor: str) -> int:
    position = cursors.decode("operations", cursor)
    if not position.isdigit() or len(position) > 15:
        raise ProblemError(422, "not a cursor this listing returned", field="query.cursor")
    return int(position)


@router.post(
    "/{operation_id}/cancel",
    summary="Cancel an operation",
    openapi_extra=audited("operations.cancel", by_library=True),
)
async def cancel_operation(
    operation_id: OperationId, c: ClientDep, who: Principal = Operator
) -> Any:
    """It stops at its next batch; what it did stays done (its counts say what). A
    finished operation is returned as it is."""
    return (await _ops(c).cancel(operation_id, actor=who.name)).to_dict()
