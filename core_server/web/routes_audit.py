"""The audit trail, for administrators: read-only (no route changes or removes an event)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status

from core_server import auth
from core_server.web.security import require

router = APIRouter(prefix="/api", tags=["audit"])


def _moment(value: str | None, name: str) -> datetime | None:
    """An ISO date or date-time; a date alone means its start, naive times are UTC."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, f"{name}: not an ISO date or time: {value!r}"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@router.get("/audit")
def audit_events(
    request: Request,
    user: Annotated[auth.User, Depends(require("admin"))],
    username: str | None = None,
    action: Annotated[str | None, Query(description="an action, or a family: 'login.'")] = None,
    target: str | None = None,
    since: Annotated[str | None, Query(description="ISO date/time, inclusive")] = None,
    until: Annotated[str | None, Query(description="ISO date/time, exclusive")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Events newest first, with the total that match the filters."""
    total, events = auth.query_audit(
        request.app.state.ctx.engine,
        username=username or None,
        action=action or None,
        target=target or None,
        since=_moment(since, "since"),
        until=_moment(until, "until"),
        limit=limit,
        offset=offset,
    )
    return {"total": total, "events": [event.as_dict() for event in events]}
