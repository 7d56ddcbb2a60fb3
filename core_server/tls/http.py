"""HTTPS and the plain HTTP port: two uvicorn servers in one event loop, one app.

The HTTPS server runs the app's lifespan (the DICOM and HL7 listeners start with it); the HTTP
server shares the app without a lifespan of its own. With ``cleartext`` off the HTTP port
answers a 308 redirect to the same path on HTTPS, except ``/healthz``, which a load balancer's
plain health check may still ask. Every HTTPS answer carries HSTS.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

HSTS = (b"strict-transport-security", b"max-age=31536000")
HEALTH = "/healthz"


class Hsts:
    """Adds Strict-Transport-Security to every answer that went out over HTTPS."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("scheme") != "https":
            await self.app(scope, receive, send)
            return

        async def with_hsts(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), HSTS]
            await send(message)

        await self.app(scope, receive, with_hsts)


class RedirectToHttps:
    """The plain port when cleartext is off: a redirect, ``/healthz`` excepted."""

    def __init__(self, app: App, https_port: int) -> None:
        self.app = app
        self.https_port = https_port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan" or (scope["type"] == "http" and scope["path"] == HEALTH):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await send(
            {
                "type": "http.response.start",
                "status": 308,
                "headers": [(b"location", self.location(scope)), (b"content-length", b"0")],
            }
        )
        await send({"type": "http.response.body", "body": b""})

    def location(self, scope: Scope) -> bytes:
        headers = dict(scope.get("headers") or [])
        host = headers.get(b"host", b"").decode("latin-1") or scope["server"][0]
        if host.startswith("["):  # [v6]:port
            host = host.split("]")[0] + "]"
        else:
            host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        port = "" if self.https_port == 443 else f":{self.https_port}"
        query = scope.get("query_string") or b""
        path = scope.get("raw_path") or scope["path"].encode()
        return f"https://{host}{port}".encode() + path + (b"?" + query if query else b"")


STOP_GRACE = 10  # seconds: a request under way finishes; a held connection does not wait


def servers(
    app: App,
    *,
    host: str,
    http_port: int,
    https_port: int,
    context: ssl.SSLContext | None,
    cleartext: bool,
    **options: Any,
) -> list[uvicorn.Server]:
    """The uvicorn servers of the core, the one running the lifespan first. A stop waits at
    most :data:`STOP_GRACE` seconds for open connections: an idle HTTPS keep-alive connection
    (a browser's) otherwise holds it for asyncio's 30 s TLS close timeout."""
    options.setdefault("timeout_graceful_shutdown", STOP_GRACE)
    if context is None:
        return [uvicorn.Server(uvicorn.Config(app, host=host, port=http_port, **options))]
    secure = uvicorn.Config(Hsts(app), host=host, port=https_port, **options)
    secure.load()
    secure.ssl = context  # ours: TLS 1.2 floor, reloadable on renewal
    plain_app: App = app if cleartext else RedirectToHttps(app, https_port)
    plain = uvicorn.Config(plain_app, host=host, port=http_port, lifespan="off", **options)
    return [uvicorn.Server(secure), uvicorn.Server(plain)]


async def run(servers: list[uvicorn.Server]) -> None:
    """Serve until one stops (a signal, or a port that could not be bound), then stop all.
    The lifespan server starts first, so the signal reaches it last and it shuts down last."""
    tasks = []
    for server in servers:
        tasks.append(asyncio.create_task(server.serve()))
        await asyncio.sleep(0)
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for server in servers:
            server.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)
