"""HTTP request times for ``pacs_http_request_duration_seconds``: a pure ASGI middleware (as
``web/proxies.py``), labelled by the route's template (``/api/ris/exams/{exam_id}``), never the
raw path, so a patient's number never becomes a metric label and the series stay few.

The route is known only after the router matched it (FastAPI writes it into the scope); a path
no route matched counts as ``unmatched``. WebSocket connections are not timed (they last
hours)."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core_server import metrics


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    if route is None:
        return "unmatched"
    return str(getattr(route, "path_format", None) or getattr(route, "path", "unmatched"))


class RequestTimes:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            metrics.HTTP_REQUEST_DURATION.labels(
                scope["method"], route_template(scope), f"{status // 100}xx"
            ).observe(time.perf_counter() - started)
