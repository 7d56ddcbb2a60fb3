"""A core's stop is not held by open connections: an idle HTTPS keep-alive connection (a
browser's) held it for asyncio's 30 s TLS close (tests/device_kit/test_enrol_tls.py's module
teardown took 30 s with one client left open, 10 s with the grace)."""

from __future__ import annotations

import ssl
from typing import Any

from core_server.tls import http


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:  # never called
    raise AssertionError


def test_every_listener_waits_at_most_the_grace() -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    for tls in (context, None):
        servers = http.servers(
            _app, host="127.0.0.1", http_port=1, https_port=2, context=tls, cleartext=False
        )
        assert len(servers) == (2 if tls else 1)
        assert {s.config.timeout_graceful_shutdown for s in servers} == {http.STOP_GRACE}
