"""REST of the forwarding queue (docs/storage-forwarding.md), admin only: its sizes and the
oldest waiting task's age per destination and status, the tasks (by destination and status,
paged, times with the hospital's offset), re-queue of one task or of a destination's dead
letters."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response

from core_server import auth
from core_server.refusals import Invalid, NotFound
from core_server.storage.forwarding import config, queue
from core_server.web.security import require
from core_server.web.storage.routes_forwarding import engine_of, woken

router = APIRouter(prefix="/api/storage/forwarding", tags=["storage"])
Admin = Annotated[auth.User, Depends(require("admin"))]
MAX_PAGE = 500
MAX_REACH = 10_000  # offset + limit: the newest ten thousand tasks can be paged through


@router.get("/queue")
def queue_sizes(request: Request, _: Admin) -> dict[str, Any]:
    """Per destination: its name and, per status, the count and the oldest open task's age."""
    engine = engine_of(request)
    names = {d.id: d.name for d in config.destinations(engine)}
    by_destination: dict[int, dict[str, Any]] = {
        i: {"destination_id": i, "name": n, "statuses": {}} for i, n in names.items()
    }
    for size in queue.sizes(engine):
        entry = by_destination.setdefault(
            size["destination_id"],
            {"destination_id": size["destination_id"], "name": "", "statuses": {}},
        )
        entry["statuses"][size["status"]] = {
            "count": size["count"],
            "oldest_age_seconds": size["oldest_age_seconds"],
        }
    return {"states": list(queue.STATES), "destinations": list(by_destination.values())}


@router.get("/tasks")
def tasks(
    request: Request,
    _: Admin,
    status: str = "",
    destination_id: Annotated[int | None, Query()] = None,
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    """The newest tasks first, ``limit`` from ``offset``; ``total`` counts the filter's."""
    if status and status not in queue.STATES:
        states = ", ".join(queue.STATES)
        raise Invalid("storage.forwarding.bad_status", status=status, states=states)
    if not 1 <= limit <= MAX_PAGE or offset < 0 or offset + limit > MAX_REACH:
        raise Invalid("storage.forwarding.bad_page", most=MAX_PAGE, reach=MAX_REACH)
    engine = engine_of(request)
    if destination_id is not None:
        config.destination(engine, destination_id)  # an unknown id is a 404
    found = queue.listed(
        engine, status=status, destination_id=destination_id, limit=offset + limit
    )[offset:]
    total = sum(
        s["count"]
        for s in queue.sizes(engine)
        if (not status or s["status"] == status)
        and (destination_id is None or s["destination_id"] == destination_id)
    )
    names = {d.id: d.name for d in config.destinations(engine)}
    for task in found:
        task["destination"] = names.get(task["destination_id"], "")
    return {"total": total, "offset": offset, "limit": limit, "tasks": found}


@router.post("/tasks/{task_id}/requeue", status_code=204)
def requeue_task(request: Request, _: Admin, task_id: int) -> Response:
    """A dead (or waiting) task tried again now, its tries anew."""
    if not queue.requeue(engine_of(request), task_id):
        raise NotFound("storage.forwarding.no_task", id=task_id)
    woken(request)
    return Response(status_code=204)


@router.post("/destinations/{destination_id}/requeue-dead")
def requeue_dead(request: Request, _: Admin, destination_id: int) -> dict[str, int]:
    engine = engine_of(request)
    config.destination(engine, destination_id)  # an unknown id is a 404
    count = queue.requeue_dead(engine, destination_id)
    woken(request)
    return {"requeued": count}


def install(app: FastAPI) -> None:
    app.include_router(router)
