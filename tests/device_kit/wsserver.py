"""A small real WebSocket server (websockets) in its own thread, that a test can stop and start
again on the same port, push messages through, and make refuse the device (close 4401)."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve


class PushServer:
    def __init__(self, port: int) -> None:
        self.port = port
        self.refuse = False
        self.tokens: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server: Server | None = None
        self._clients: set[ServerConnection] = set()

    async def _handler(self, ws: ServerConnection) -> None:
        request = ws.request
        assert request is not None
        self.tokens.append(f"{request.path} {request.headers.get('Authorization')}")
        if self.refuse:
            await ws.close(4401, "not authenticated")
            return
        self._clients.add(ws)
        try:
            await ws.send(json.dumps({"type": "hello", "seq": 1}))
            async for _ in ws:
                pass
        finally:
            self._clients.discard(ws)

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    def start(self) -> PushServer:
        async def start() -> Server:
            return await serve(self._handler, "127.0.0.1", self.port)

        self._server = self._run(start())
        return self

    def stop(self) -> None:
        async def stop() -> None:
            assert self._server is not None
            self._server.close()
            await self._server.wait_closed()

        self._run(stop())

    def push(self, message: dict[str, Any]) -> None:
        async def push() -> None:
            for ws in list(self._clients):
                await ws.send(json.dumps(message))

        self._run(push())

    def close(self) -> None:
        if self._server is not None and self._server.is_serving():
            self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
