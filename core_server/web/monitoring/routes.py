"""``/metrics`` (Prometheus text format) and ``/api/monitoring/system`` (the system page's
numbers). ``/metrics`` admits the configured ``metrics_token`` as a bearer token (what a
Prometheus server presents) or a signed-in admin; anyone else is 401 (403 for a signed-in
user of another role)."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from core_server import auth
from core_server.monitoring import Monitoring
from core_server.refusals import Forbidden
from core_server.web.monitoring.middleware import RequestTimes
from core_server.web.refusals import caller_language
from core_server.web.security import SignedOut, presented_token, require

router = APIRouter(tags=["monitoring"])
Admin = Annotated[auth.User, Depends(require("admin"))]


def service(request: Request) -> Monitoring:
    monitoring: Monitoring = request.app.state.monitoring
    return monitoring


def _scraper_allowed(request: Request) -> None:
    expected = request.app.state.ctx.settings.metrics_token
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    presented = value.strip().encode()
    if (
        expected
        and scheme.lower() == "bearer"
        and hmac.compare_digest(presented, expected.encode())
    ):
        return
    raw = presented_token(request)
    user = auth.user_for_token(request.app.state.ctx.engine, raw) if raw else None
    if user is None:
        raise SignedOut
    if user.role != "admin":
        raise Forbidden("web.auth.forbidden")


# Besides the scrape token, admins only: the route-table tests read the roles.
_scraper_allowed.roles = ("admin",)  # type: ignore[attr-defined]


@router.get("/metrics", response_class=Response, include_in_schema=False)
def scrape(request: Request, _allowed: Annotated[None, Depends(_scraper_allowed)]) -> Response:
    return Response(generate_latest(service(request).registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/api/monitoring/system")
def system_page_data(request: Request, user: Admin, node: str | None = None) -> dict[str, Any]:
    """CPU, memory, disks and load now; the node's samples of the last day; queues, devices
    and the alerts open or raised in the last day (times ISO 8601 in the hospital's zone)."""
    return service(request).page(caller_language(request), node)


def install(app: FastAPI) -> None:
    """The metrics, the system page's API and the request timing (the service is the
    server's, :func:`core_server.monitoring.monitoring_for`)."""
    ctx = app.state.ctx
    if ctx.monitoring is None:
        return
    app.state.monitoring = ctx.monitoring
    app.add_middleware(RequestTimes)
    app.include_router(router)
