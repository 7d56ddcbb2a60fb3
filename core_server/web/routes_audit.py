"""The audit trail, for administrators: read-only (no route changes or removes an event)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from core_server import auth, clock
from core_server.refusals import Invalid
from core_server.web.security import require

router = APIRouter(prefix="/api", tags=["audit"])


def _moment(value: str | None, name: str) -> datetime | None:
    """An ISO date or date-time; a date alone means its start, a time without an offset is
    the hospital's (what a person at the audit page means by "from 3 March")."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid("web.audit.bad_time", field=name, value=value) from None
    return moment if moment.tzinfo else clock.from_local(moment)


@router.get("/audit")
def audit_events(
    request: Request,
    user: Annotated[auth.User, Depends(require("admin"))],
    username: str | None = None,
    action: Annotated[str | None, Query(description="an action, or a family: 'login.'")] = None,
    target: str | None = None,
    since: Annotated[
        str | None, Query(description="ISO date/time, inclusive; no offset: the hospital's")
    ] = None,
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
